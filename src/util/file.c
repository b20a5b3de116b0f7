/* file.c - reading configuration files and secrets; see rbfile.h. */
#include "rbfile.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *
rb_read_file(const char *path, size_t max, size_t *len, const char **err)
{
  FILE *f = fopen(path, "rb");
  struct stat st;
  char *data;
  size_t n;
  int failed;

  if (!f) {
    *err = strerror(errno);
    return NULL;
  }
  /* fopen() opens a directory for reading; fread() then fails with
   * EISDIR, which must not pass for an empty file. */
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    *err = "is a directory";
    return NULL;
  }
  data = malloc(max + 1);
  if (!data) {
    fclose(f);
    *err = "out of memory";
    return NULL;
  }
  errno = 0;
  n = fread(data, 1, max + 1, f);
  failed = ferror(f);
  if (failed)
    *err = strerror(errno ? errno : EIO);
  fclose(f);
  if (failed) {
    free(data);
    return NULL;
  }
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

/* The last OpenSSL error's reason ("no start line"), for messages; the
 * thread's error queue is emptied. */
static const char *
ossl_reason(void)
{
  const char *r = ERR_reason_error_string(ERR_peek_last_error());
  ERR_clear_error();
  return r ? r : "unknown error";
}

int
rb_check_ca_file(const char *path, char *err, size_t errlen)
{
  const char *why = NULL;
  size_t len = 0;
  char *text = rb_read_file(path, 4u << 20, &len, &why);
  BIO *bio;
  X509 *x = NULL;
  int ok;

  if (!text) {
    snprintf(err, errlen, "cannot read %s: %s", path, why);
    return -1;
  }
  bio = BIO_new_mem_buf(text, (int)len);
  if (bio)
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  ok = x != NULL;
  if (!ok)
    snprintf(err, errlen, "%s holds no PEM certificate (%s)", path,
             bio ? ossl_reason() : "out of memory");
  X509_free(x);
  BIO_free(bio);
  free(text);
  ERR_clear_error();
  return ok ? 0 : -1;
}

/* A passphrase callback that has none: an encrypted key fails instead of
 * OpenSSL prompting on the terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

int
rb_check_tls_pair(const char *cert_pem, const char *key_pem, char *cert_err, char *key_err,
                  size_t errlen)
{
  BIO *cb = cert_pem ? BIO_new_mem_buf(cert_pem, -1) : NULL;
  BIO *kb = key_pem ? BIO_new_mem_buf(key_pem, -1) : NULL;
  X509 *x = NULL;
  EVP_PKEY *k = NULL;
  int bad = 0;

  cert_err[0] = key_err[0] = '\0';
  if ((cert_pem && !cb) || (key_pem && !kb)) {
    snprintf(cert_err, errlen, "out of memory");
    bad = 1;
    goto out;
  }
  if (cb && !(x = PEM_read_bio_X509(cb, NULL, NULL, NULL))) {
    snprintf(cert_err, errlen, "not a PEM certificate (%s)", ossl_reason());
    bad = 1;
  }
  if (kb)
    k = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL);
  if (kb && !k && strstr(key_pem, "ENCRYPTED")) {
    ERR_clear_error();
    snprintf(key_err, errlen,
             "an encrypted private key: nothing can type its passphrase "
             "(decrypt it with openssl pkey)");
    bad = 1;
  } else if (kb && !k) {
    snprintf(key_err, errlen, "not a PEM private key (%s)",
             strstr(key_pem, "PRIVATE KEY-----") ? ossl_reason() : "no PRIVATE KEY block");
    bad = 1;
  } else if (x && k && X509_check_private_key(x, k) != 1) {
    ERR_clear_error();
    snprintf(key_err, errlen, "the private key does not match the certificate");
    bad = 1;
  }
out:
  EVP_PKEY_free(k);
  X509_free(x);
  BIO_free(cb);
  BIO_free(kb);
  ERR_clear_error();
  return bad ? -1 : 0;
}
