/* file.c - reading configuration files and secrets; see rbfile.h. */
#include "rbfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
rb_read_file(const char *path, size_t max, size_t *len, const char **err)
{
  FILE *f = fopen(path, "rb");
  char *data;
  size_t n;

  if (!f) {
    *err = strerror(errno);
    return NULL;
  }
  data = malloc(max + 1);
  if (!data) {
    fclose(f);
    *err = "out of memory";
    return NULL;
  }
  n = fread(data, 1, max + 1, f);
  fclose(f);
  if (n > max) {
    free(data);
    *err = "file too large";
    return NULL;
  }
  data[n] = '\0';
  if (len)
    *len = n;
  return data;
}

char *
rb_read_secret(const char *path, char *err, size_t errlen)
{
  const char *why = NULL;
  char *s = rb_read_file(path, 64 * 1024, NULL, &why);
  size_t n, lead;

  if (!s) {
    snprintf(err, errlen, "cannot read %s: %s", path, why);
    return NULL;
  }
  n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1]))
    s[--n] = '\0';
  lead = strspn(s, " \t\r\n");
  memmove(s, s + lead, n - lead + 1);
  if (!*s) {
    snprintf(err, errlen, "%s is empty", path);
    free(s);
    return NULL;
  }
  return s;
}

char *
rb_path_join(const char *dir, const char *p)
{
  size_t n;
  char *out;

  if (!dir || p[0] == '/')
    return strdup(p);
  n = strlen(dir) + strlen(p) + 2;
  out = malloc(n);
  if (out)
    snprintf(out, n, "%s/%s", dir, p);
  return out;
}

char *
rb_dirname(const char *path)
{
  const char *slash = path ? strrchr(path, '/') : NULL;
  if (!slash)
    return NULL;
  if (slash == path)
    return strdup("/");
  return strndup(path, (size_t)(slash - path));
}
