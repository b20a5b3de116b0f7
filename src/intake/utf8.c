/* utf8.c - UTF-8 validation and a JSON nesting pre-scan for untrusted
 * bodies, run before the JSON parser so errors can be named precisely. */
#include "buf.h"
#include "payload.h"

long
utf8_invalid_at(const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;

  for (size_t i = 0; i < len;) {
    size_t n = buf_utf8_seq(p + i, len - i);
    if (!n)
      return (long)i;
    i += n;
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
