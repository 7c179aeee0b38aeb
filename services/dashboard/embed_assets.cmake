# cmake -DWEB_DIR=... -DOUTPUT=... -P embed_assets.cmake
# Writes a C++ file holding every file of WEB_DIR as a byte array, for web_assets.h.
file(GLOB files LIST_DIRECTORIES false RELATIVE ${WEB_DIR} ${WEB_DIR}/*)
list(SORT files)
set(arrays "")
set(table "")
set(index 0)
foreach(name ${files})
  file(READ ${WEB_DIR}/${name} hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # A trailing 0, so an empty file still makes a valid array.
  string(APPEND arrays "const unsigned char kFile${index}[] = {${bytes}0};\n")
  string(APPEND table
    "    {\"${name}\", {reinterpret_cast<const char*>(kFile${index}), ${size}}},\n")
  math(EXPR index "${index} + 1")
endforeach()
set(text "// Generated from services/dashboard/web by embed_assets.cmake; do not edit.
#include \"web_assets.h\"

namespace mp::dashboard {

namespace {
${arrays}
const WebAsset kAssets[] = {
${table}};
}  // namespace

std::span<const WebAsset> web_assets() { return kAssets; }

}  // namespace mp::dashboard
")
# Unchanged output keeps its timestamp, so nothing recompiles for nothing.
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
  if(old STREQUAL text)
    return()
  endif()
endif()
file(WRITE ${OUTPUT} "${text}")
