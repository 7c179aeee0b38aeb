#include "block_page.h"

namespace mp::webfilter {

namespace {

void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
}

}  // namespace

const char* status_text(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 408:
      return "Request Timeout";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
  }
  return "Error";
}

void write_error_page(const ErrorPage& page, std::string& out) {
  std::string body;
  body.reserve(256 + page.message.size() + page.host.size());
  body.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
  body.append(std::to_string(page.status)).append(" ").append(status_text(page.status));
  body.append("</title></head><body>\n<h1>");
  body.append(page.status == 403 ? "This site is blocked" : status_text(page.status));
  body.append("</h1>\n");
  if (!page.host.empty() && page.status == 403) {
    body.append("<p><b>");
    append_escaped(body, page.host);
    body.append("</b></p>\n");
  }
  body.append("<p>");
  append_escaped(body, page.message);
  body.append("</p>\n</body></html>\n");

  out.clear();
  out.append("HTTP/1.1 ").append(std::to_string(page.status)).append(" ");
  out.append(status_text(page.status));
  out.append("\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  if (page.close) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (!page.head_only) out.append(body);
}

}  // namespace mp::webfilter
