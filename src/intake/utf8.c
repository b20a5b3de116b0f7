/* utf8.c - UTF-8 validation and the pre-scan of untrusted JSON bodies, run
 * before the JSON parser so that errors can be named precisely and what a
 * parse would cost is known beforehand. */
#include "buf.h"
#include "payload.h"

#include <stdio.h>
#include <string.h>

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

int
json_scan(const char *s, size_t len, unsigned max_depth, struct json_scan *out, char *err,
          size_t errlen)
{
  const unsigned char *p = (const unsigned char *)s;
  unsigned depth = 0, max = 0;
  size_t values = 1;
  int in_str = 0;
  long bad = utf8_invalid_at(s, len);

  /* Only what precedes an invalid sequence is scanned: the UTF-8 error
   * is reported unless something before it is wrong already. */
  for (size_t i = 0; i < (bad >= 0 ? (size_t)bad : len); i++) {
    unsigned char c = p[i];
    if (c == '\0') {
      snprintf(err, errlen, "NUL byte at byte %zu", i);
      return -1;
    }
    if (in_str) {
      if (c < 0x20) {
        snprintf(err, errlen, "unescaped control character U+%04X in a string at byte %zu", c, i);
        return -1;
      }
      if (c == '\\') {
        if (i + 5 < len && memcmp(s + i + 1, "u0000", 5) == 0) {
          snprintf(err, errlen, "\\u0000 (NUL) in a string at byte %zu: not accepted", i);
          return -1;
        }
        i++;
      } else if (c == '"') {
        in_str = 0;
      }
      continue;
    }
    if (c == '"') {
      in_str = 1;
    } else if (c == ',') {
      values++;
    } else if (c == '{' || c == '[') {
      values++;
      if (++depth > max) {
        max = depth;
        if (max > max_depth) {
          snprintf(err, errlen, "JSON nested deeper than %u levels (byte %zu)", max_depth, i);
          return -1;
        }
      }
    } else if ((c == '}' || c == ']') && depth) {
      depth--;
    }
  }
  if (bad >= 0) {
    snprintf(err, errlen, "not valid UTF-8 (byte %ld)", bad);
    return -1;
  }
  if (out) {
    out->depth = max;
    out->values = values;
    out->open = depth + (unsigned)in_str;
  }
  return 0;
}
