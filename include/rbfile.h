/*
 * rbfile.h - reading configuration files and secrets.
 */
#ifndef RUNBOOKD_RBFILE_H
#define RUNBOOKD_RBFILE_H

#include "rb.h"

/* Reads a whole file of at most max bytes, NUL-terminated; *len (may be
 * NULL) gets its length.  NULL when it cannot, with *err a static message
 * or strerror()'s.  The caller frees the result. */
char *rb_read_file(const char *path, size_t max, size_t *len, const char **err);

/* Reads a secret (token, password, key, URL) from a file, trimmed of
 * surrounding whitespace as Alertmanager trims credentials files.  NULL
 * when unreadable or empty, with the reason (naming the path) in err
 * (errlen bytes).  The caller wipes and frees the result. */
char *rb_read_secret(const char *path, char *err, size_t errlen);

/* p itself when absolute or dir is NULL, else dir/p.  The caller frees. */
char *rb_path_join(const char *dir, const char *p);

/* The folder of a file path ("a/b.json" -> "a"), or NULL when it has
 * none.  The caller frees. */
char *rb_dirname(const char *path);

#endif
