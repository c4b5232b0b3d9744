#include "tokenizer/chat_template/lexer.h"

#include <cctype>

#include "core/errors.h"
#include "tokenizer/chat_template/unicode_text.h"

namespace vllm::jinja {

namespace {

// Python's \s for the ASCII range, which is all that whitespace control meets in practice.
bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string source) { result_.source = std::move(source); }

  LexedTemplate run() {
    const std::string& src = result_.source;
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src.size()) {
      const size_t start = find_tag_start(pos);
      if (start == std::string::npos) {
        emit_text(src.substr(pos), pos);
        break;
      }
      const char kind = src[start + 1];
      const char sign = start + 2 < src.size() ? src[start + 2] : '\0';
      std::string text = src.substr(pos, start - pos);
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop spaces between the line start and a block or comment tag.
        const size_t newline = text.rfind('\n');
        const size_t line_begin = newline == std::string::npos ? 0 : newline + 1;
        if ((line_begin > 0 || line_starting) && text.size() > line_begin &&
            only_spaces(text, line_begin)) {
          text.resize(line_begin);
        }
      }
      emit_text(std::move(text), pos);

      size_t body = start + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        pos = lex_comment(start, body, line_starting);
      } else {
        pos = lex_tag(start, body, kind == '%', line_starting);
      }
    }
    result_.tokens.push_back(Token{TokenType::kEnd, "", 0, 0, src.size()});
    return std::move(result_);
  }

 private:
  size_t find_tag_start(size_t pos) const {
    const std::string& src = result_.source;
    while (true) {
      pos = src.find('{', pos);
      if (pos == std::string::npos || pos + 1 >= src.size()) return std::string::npos;
      const char next = src[pos + 1];
      if (next == '{' || next == '%' || next == '#') return pos;
      ++pos;
    }
  }

  static bool only_spaces(const std::string& text, size_t from) {
    for (size_t i = from; i < text.size(); ++i) {
      if (!is_space(text[i])) return false;
    }
    return true;
  }

  void emit_text(std::string text, size_t offset) {
    if (!text.empty()) result_.tokens.push_back(Token{TokenType::kText, std::move(text), 0, 0, offset});
  }

  [[noreturn]] void fail(const std::string& message, size_t offset) const {
    throw InvalidArgument(fmt::format("chat template syntax error at {}: {}",
                                      describe_location(result_.source, offset), message));
  }

  // Consumes the whitespace control after a closing marker; returns the new position.
  size_t consume_end(size_t after_marker, char sign, bool trim_newline, bool& line_starting) {
    const std::string& src = result_.source;
    size_t pos = after_marker;
    if (sign == '-') {
      while (pos < src.size() && is_space(src[pos])) ++pos;
    } else if (sign != '+' && trim_newline && pos < src.size() && src[pos] == '\n') {
      ++pos;
    }
    line_starting = src[pos - 1] == '\n';
    return pos;
  }

  size_t lex_comment(size_t start, size_t body, bool& line_starting) {
    const std::string& src = result_.source;
    const size_t end = src.find("#}", body);
    if (end == std::string::npos) fail("missing end of comment tag", start);
    const char sign = (end > body && (src[end - 1] == '-' || src[end - 1] == '+')) ? src[end - 1] : '\0';
    return consume_end(end + 2, sign, /*trim_newline=*/true, line_starting);
  }

  size_t lex_tag(size_t start, size_t body, bool is_block, bool& line_starting) {
    const std::string& src = result_.source;
    const size_t first_token = result_.tokens.size();
    result_.tokens.push_back(
        Token{is_block ? TokenType::kBlockBegin : TokenType::kVariableBegin, "", 0, 0, start});
    const char close = is_block ? '%' : '}';
    int depth = 0;
    size_t pos = body;
    while (true) {
      while (pos < src.size() && is_space(src[pos])) ++pos;
      if (pos >= src.size()) fail(is_block ? "missing '%}'" : "missing '}}'", start);
      if (depth == 0) {
        char sign = '\0';
        size_t marker = pos;
        if ((src[pos] == '-' || (src[pos] == '+' && is_block)) && pos + 1 < src.size() &&
            src[pos + 1] == close) {
          sign = src[pos];
          marker = pos + 1;
        }
        if (src.compare(marker, 2, is_block ? "%}" : "}}") == 0) {
          result_.tokens.push_back(
              Token{is_block ? TokenType::kBlockEnd : TokenType::kVariableEnd, "", 0, 0, pos});
          pos = consume_end(marker + 2, sign, /*trim_newline=*/is_block, line_starting);
          if (is_block && is_raw_tag(first_token)) pos = lex_raw(pos, start, line_starting);
          return pos;
        }
      }
      pos = lex_expression_token(pos, depth);
    }
  }

  bool is_raw_tag(size_t first_token) const {
    const auto& tokens = result_.tokens;
    return tokens.size() == first_token + 3 && tokens[first_token + 1].type == TokenType::kName &&
           tokens[first_token + 1].text == "raw";
  }

  // Emits the text up to `{% endraw %}` verbatim, honouring the endraw tag's whitespace control.
  size_t lex_raw(size_t pos, size_t raw_start, bool& line_starting) {
    const std::string& src = result_.source;
    // Drop the `{% raw %}` tokens: the raw body becomes plain text.
    result_.tokens.resize(result_.tokens.size() - 3);
    size_t search = pos;
    while (true) {
      const size_t tag = src.find("{%", search);
      if (tag == std::string::npos) fail("missing '{% endraw %}'", raw_start);
      size_t p = tag + 2;
      const char sign = (p < src.size() && (src[p] == '-' || src[p] == '+')) ? src[p] : '\0';
      if (sign != '\0') ++p;
      while (p < src.size() && is_space(src[p])) ++p;
      if (src.compare(p, 6, "endraw") != 0) {
        search = tag + 2;
        continue;
      }
      p += 6;
      while (p < src.size() && is_space(src[p])) ++p;
      char end_sign = '\0';
      if (p < src.size() && (src[p] == '-' || src[p] == '+')) end_sign = src[p++];
      if (src.compare(p, 2, "%}") != 0) fail("invalid '{% endraw %}' tag", tag);
      std::string text = src.substr(pos, tag - pos);
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      }
      emit_text(std::move(text), pos);
      return consume_end(p + 2, end_sign, /*trim_newline=*/true, line_starting);
    }
  }

  size_t lex_expression_token(size_t pos, int& depth) {
    const std::string& src = result_.source;
    const char c = src[pos];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos;
      while (end < src.size() &&
             (std::isalnum(static_cast<unsigned char>(src[end])) || src[end] == '_')) {
        ++end;
      }
      result_.tokens.push_back(Token{TokenType::kName, src.substr(pos, end - pos), 0, 0, pos});
      return end;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(pos);
    if (c == '\'' || c == '"') return lex_string(pos);

    static const char* kTwoCharOperators[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwoCharOperators) {
      if (src.compare(pos, 2, op) == 0) {
        result_.tokens.push_back(Token{TokenType::kOperator, op, 0, 0, pos});
        return pos + 2;
      }
    }
    static const std::string kOneCharOperators = "+-/*%~[](){}<>=.:,|;";
    if (kOneCharOperators.find(c) == std::string::npos) {
      fail(fmt::format("unexpected char '{}'", c), pos);
    }
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) fail(fmt::format("unexpected '{}'", c), pos);
      --depth;
    }
    result_.tokens.push_back(Token{TokenType::kOperator, std::string(1, c), 0, 0, pos});
    return pos + 1;
  }

  // Digits with optional single underscores between them, as jinja2's number syntax allows.
  size_t scan_digits(size_t pos) const {
    const std::string& src = result_.source;
    size_t end = pos;
    while (end < src.size()) {
      if (std::isdigit(static_cast<unsigned char>(src[end]))) {
        ++end;
      } else if (src[end] == '_' && end > pos && end + 1 < src.size() &&
                 std::isdigit(static_cast<unsigned char>(src[end + 1]))) {
        ++end;
      } else {
        break;
      }
    }
    return end;
  }

  size_t lex_number(size_t pos) {
    const std::string& src = result_.source;
    size_t end = scan_digits(pos);
    bool is_float = false;
    const bool after_dot = pos > 0 && src[pos - 1] == '.';
    if (!after_dot && end + 1 < src.size() && src[end] == '.' &&
        std::isdigit(static_cast<unsigned char>(src[end + 1]))) {
      end = scan_digits(end + 1);
      is_float = true;
    }
    if (!after_dot && end < src.size() && (src[end] == 'e' || src[end] == 'E')) {
      size_t exp = end + 1;
      if (exp < src.size() && (src[exp] == '+' || src[exp] == '-')) ++exp;
      if (exp < src.size() && std::isdigit(static_cast<unsigned char>(src[exp]))) {
        end = scan_digits(exp);
        is_float = true;
      }
    }
    std::string digits;
    for (size_t i = pos; i < end; ++i) {
      if (src[i] != '_') digits.push_back(src[i]);
    }
    Token token{is_float ? TokenType::kFloat : TokenType::kInteger, digits, 0, 0, pos};
    if (is_float) {
      token.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      errno = 0;
      token.int_value = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == ERANGE) fail("integer literal exceeds the supported range (int64)", pos);
    }
    result_.tokens.push_back(std::move(token));
    return end;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Decodes Python's string escapes, as jinja2 does with the "unicode-escape" codec.
  size_t lex_string(size_t pos) {
    const std::string& src = result_.source;
    const char quote = src[pos];
    std::string value;
    size_t i = pos + 1;
    while (true) {
      if (i >= src.size()) fail("unterminated string literal", pos);
      const char c = src[i];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src.size()) fail("unterminated string literal", pos);
      const char e = src[i + 1];
      i += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          value.push_back(e);
          break;
        case 'n':
          value.push_back('\n');
          break;
        case 't':
          value.push_back('\t');
          break;
        case 'r':
          value.push_back('\r');
          break;
        case 'a':
          value.push_back('\a');
          break;
        case 'b':
          value.push_back('\b');
          break;
        case 'f':
          value.push_back('\f');
          break;
        case 'v':
          value.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int num_digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          char32_t code_point = 0;
          for (int k = 0; k < num_digits; ++k) {
            const int h = i + k < src.size() ? hex_value(src[i + k]) : -1;
            if (h < 0) fail(fmt::format("truncated \\{} escape in string literal", e), i - 2);
            code_point = code_point * 16 + h;
          }
          i += num_digits;
          append_utf8(value, code_point);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            char32_t code_point = e - '0';
            for (int k = 0; k < 2 && i < src.size() && src[i] >= '0' && src[i] <= '7'; ++k) {
              code_point = code_point * 8 + (src[i++] - '0');
            }
            append_utf8(value, code_point);
          } else {
            value.push_back('\\');
            value.push_back(e);
          }
      }
    }
    result_.tokens.push_back(Token{TokenType::kString, std::move(value), 0, 0, pos});
    return i + 1;
  }

  LexedTemplate result_;
};

}  // namespace

std::string describe_location(const std::string& source, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("line {}, column {}", line, offset - line_start + 1);
}

LexedTemplate tokenize(std::string_view source) {
  return Lexer(normalize_newlines(source)).run();
}

}  // namespace vllm::jinja
