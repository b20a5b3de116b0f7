/*
 * rbfile.h - reading configuration files and secrets.
 */
#ifndef RUNBOOKD_RBFILE_H
#define RUNBOOKD_RBFILE_H

#include "rb.h"

/* Reads a whole file of at most max bytes, NUL-terminated; *len (may be
 * NULL) gets its length.  NULL when it cannot (a read error, a directory:
 * "is a directory", more than max bytes), with *err a static message or
 * strerror()'s.  The caller frees the result. */
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

/* Checks a CA bundle as libcurl's CAINFO takes it: 0 when path is readable
 * and holds at least one PEM certificate, else -1 with the reason (naming
 * path) in err (errlen bytes). */
int rb_check_ca_file(const char *path, char *err, size_t errlen);

/* Checks a TLS certificate and private key given as PEM text (OpenSSL's
 * PEM_read_bio_X509, PEM_read_bio_PrivateKey, X509_check_private_key):
 * 0 when both parse and the key is the certificate's.  Else -1 with the
 * certificate's problem in cert_err and the key's (a key that does not
 * match included) in key_err, each "" when that one is fine (errlen bytes
 * each).  Either may be NULL (unreadable): the other is checked alone.  An
 * encrypted key is refused: nothing could type its passphrase. */
int rb_check_tls_pair(const char *cert_pem, const char *key_pem, char *cert_err, char *key_err,
                      size_t errlen);

#endif
