/* utf8.c - UTF-8 validation and a JSON nesting pre-scan for untrusted
 * bodies, run before the JSON parser so errors can be named precisely. */
#include "payload.h"

long
utf8_invalid_at(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;

  while (i < len) {
    unsigned c = p[i];
    size_t n;
    unsigned cp;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return (long)i;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (p[i + k] & 0xc0) != 0x80)
        return (long)i;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    /* overlong forms, surrogates and values past U+10FFFF */
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
      return (long)i;
    i += n + 1;
  }
  return -1;
}

unsigned
json_depth(const char *s, size_t len, unsigned limit)
{
  unsigned depth = 0, max = 0;
  int in_str = 0;

  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = 0;
      continue;
    }
    if (c == '"') {
      in_str = 1;
    } else if (c == '{' || c == '[') {
      if (++depth > max) {
        max = depth;
        if (max > limit)
          return limit + 1;
      }
    } else if ((c == '}' || c == ']') && depth) {
      depth--;
    }
  }
  return max;
}
