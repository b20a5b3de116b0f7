/*
 * ceiling.c - the fastest durable webhook receiver this machine can run on
 * runbookd's HTTP library and disk, as a yardstick for bench/run.sh.
 *
 * It does what runbookd must do before a 200 and nothing else: read the
 * body (libmicrohttpd, runbookd's thread pool and flags but epoll, see
 * main),
 * suspend the connection, append the body to a log file and fdatasync it
 * (group commit: one thread writes every queued body with one pwrite and
 * syncs once), then resume and answer 200.  No parsing, no database, no
 * incident logic.  The log is preallocated and rewritten from its start
 * when full, as SQLite reuses its WAL, so a sync never changes the file's
 * size.  Its req/s is the upper bound of any durable intake on this
 * machine: runbookd's figure divided by it says how much of the machine's
 * durable capacity runbookd's own work leaves.
 *
 *   ceiling LOGFILE [THREADS [MODE]]
 *       listens on 127.0.0.1, an ephemeral port, printed as
 *       "msg=listening port=N" on stderr.  MODE is how a body is made
 *       durable and how its connection waits (bench/run.sh uses the first,
 *       the fastest here; the others are there to show that it is):
 *         resume  pwrite + fdatasync; connections suspended, resumed after
 *                 the sync (runbookd's way)                    [default]
 *         block   pwrite + fdatasync; a thread per connection, which waits
 *                 in the handler (no suspend/resume, no thread pool)
 *         dsync   the log opened O_DSYNC: each group's pwrite is durable
 *                 when it returns, no fdatasync
 *         direct  O_DIRECT | O_DSYNC: groups padded to 4 KB from aligned
 *                 buffers, bypassing the page cache (FUA writes where the
 *                 disk has them)
 *
 * Stops on SIGTERM or SIGINT.  Bodies over 1 MiB get 413.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <microhttpd.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BODY (1u << 20)
#define LOG_BYTES (64u << 20)

struct req {
  struct MHD_Connection *c;
  char *body;
  size_t len;
  int state; /* 0 reading, 1 waiting for the sync, 2 durable, 3 failed */
  struct req *next;
};

enum mode { MODE_RESUME, MODE_BLOCK, MODE_DSYNC, MODE_DIRECT };
static const char *const mode_names[] = { "resume", "block", "dsync", "direct" };
static enum mode mode;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t durable = PTHREAD_COND_INITIALIZER; /* MODE_BLOCK */
static struct req *queue, **qtail = &queue;
static int stopping;
static int logfd;
static off_t logoff;
static unsigned long long syncs, synced;

static void *
syncer(void *arg)
{
  char *buf = NULL;
  size_t cap = 0;

  (void)arg;
  for (;;) {
    struct req *list, *r, *next;
    size_t len = 0;
    int failed = 0;

    pthread_mutex_lock(&mu);
    while (!queue && !stopping)
      pthread_cond_wait(&wake, &mu);
    if (!queue) {
      pthread_mutex_unlock(&mu);
      break;
    }
    list = queue;
    queue = NULL;
    qtail = &queue;
    pthread_mutex_unlock(&mu);

    for (r = list; r; r = r->next)
      len += r->len + 1;
    if (mode == MODE_DIRECT) /* O_DIRECT: whole blocks at aligned offsets */
      len = (len + 4095) & ~(size_t)4095;
    if (len > cap) {
      void *nb = NULL;
      free(buf);
      buf = NULL;
      cap = 0;
      if (posix_memalign(&nb, 4096, len) != 0)
        failed = 1;
      else {
        buf = nb;
        cap = len;
      }
    }
    if (!failed) {
      size_t at = 0;
      for (r = list; r; r = r->next) {
        memcpy(buf + at, r->body, r->len);
        at += r->len;
        buf[at++] = '\n';
      }
      memset(buf + at, '\n', len - at);
      if (logoff + (off_t)len > (off_t)LOG_BYTES)
        logoff = 0;
      failed = pwrite(logfd, buf, len, logoff) != (ssize_t)len
               || ((mode == MODE_RESUME || mode == MODE_BLOCK) && fdatasync(logfd) != 0);
      logoff += (off_t)len;
      syncs++;
    }
    if (mode == MODE_BLOCK)
      pthread_mutex_lock(&mu);
    for (r = list; r; r = next) {
      next = r->next; /* r may be freed once resumed or woken */
      synced++;
      r->state = failed ? 3 : 2;
      if (mode != MODE_BLOCK)
        MHD_resume_connection(r->c);
    }
    if (mode == MODE_BLOCK) {
      pthread_cond_broadcast(&durable);
      pthread_mutex_unlock(&mu);
    }
  }
  free(buf);
  return NULL;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *text)
{
  struct MHD_Response *resp =
    MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret;

  if (!resp)
    return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  ret = MHD_queue_response(c, code, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *data, size_t *size, void **ctx)
{
  struct req *r = *ctx;

  (void)cls;
  (void)url;
  (void)version;
  if (!r) {
    if (strcmp(method, "POST") != 0)
      return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"POST only\"}\n");
    r = calloc(1, sizeof(*r));
    if (!r)
      return MHD_NO;
    r->c = c;
    *ctx = r;
    return MHD_YES;
  }
  if (*size) {
    if (r->len + *size > MAX_BODY)
      return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body over 1 MiB\"}\n");
    char *nb = realloc(r->body, r->len + *size);
    if (!nb)
      return MHD_NO;
    memcpy(nb + r->len, data, *size);
    r->body = nb;
    r->len += *size;
    *size = 0;
    return MHD_YES;
  }
  switch (r->state) {
  case 0:
    r->state = 1;
    if (mode != MODE_BLOCK)
      MHD_suspend_connection(c);
    pthread_mutex_lock(&mu);
    r->next = NULL;
    *qtail = r;
    qtail = &r->next;
    pthread_cond_signal(&wake);
    if (mode == MODE_BLOCK) {
      while (r->state == 1)
        pthread_cond_wait(&durable, &mu);
      pthread_mutex_unlock(&mu);
      return r->state == 2 ? reply(c, MHD_HTTP_OK, "{\"status\":\"success\"}\n")
                           : reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"log write failed\"}\n");
    }
    pthread_mutex_unlock(&mu);
    return MHD_YES;
  case 2:
    return reply(c, MHD_HTTP_OK, "{\"status\":\"success\"}\n");
  case 3:
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"log write failed\"}\n");
  default:
    return MHD_YES; /* a spurious call while waiting */
  }
}

static void
completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t)
{
  struct req *r = *ctx;

  (void)cls;
  (void)c;
  (void)t;
  if (r) {
    free(r->body);
    free(r);
  }
  *ctx = NULL;
}

int
main(int argc, char **argv)
{
  unsigned threads = argc > 2 ? (unsigned)atoi(argv[2]) : 2;
  static char zero[1 << 16] __attribute__((aligned(4096)));
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  pthread_t th;
  sigset_t set;
  int sig;

  int flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC;
  unsigned mhd_flags;

  if (argc > 3) {
    unsigned m = 0;
    while (m < sizeof(mode_names) / sizeof(*mode_names) && strcmp(argv[3], mode_names[m]) != 0)
      m++;
    if (m == sizeof(mode_names) / sizeof(*mode_names)) {
      fprintf(stderr, "ceiling: unknown mode %s (resume, block, dsync or direct)\n", argv[3]);
      return 2;
    }
    mode = (enum mode)m;
  }
  if (argc < 2 || threads < 1) {
    fprintf(stderr, "usage: ceiling LOGFILE [THREADS [resume|block|dsync|direct]]\n");
    return 2;
  }
  if (mode == MODE_DSYNC)
    flags |= O_DSYNC;
  else if (mode == MODE_DIRECT)
    flags |= O_DIRECT | O_DSYNC;
  logfd = open(argv[1], flags, 0600);
  if (logfd < 0) {
    fprintf(stderr, "ceiling: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  for (unsigned i = 0; i < LOG_BYTES / sizeof(zero); i++)
    if (write(logfd, zero, sizeof(zero)) != (ssize_t)sizeof(zero)) {
      fprintf(stderr, "ceiling: cannot preallocate %s: %s\n", argv[1], strerror(errno));
      return 1;
    }
  if (fsync(logfd) != 0) {
    fprintf(stderr, "ceiling: fsync %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (pthread_create(&th, NULL, syncer, NULL) != 0)
    return 1;
  /* runbookd's flags (src/http/server.c), bound to loopback, except that
   * the workers use epoll: runbookd's poll() (chosen for a safe SIGTERM)
   * costs this server about 10% (45-46k vs 48-52k req/s, 2026-12-04), and
   * a ceiling should be the fastest. */
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  mhd_flags = mode == MODE_BLOCK
                ? MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL
                : MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                    | MHD_USE_ITC;
  d = MHD_start_daemon(mhd_flags, 0, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                       MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                       /* a thread per connection takes no pool */
                       MHD_OPTION_THREAD_POOL_SIZE, mode == MODE_BLOCK ? 0u : threads,
                       MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "ceiling: cannot start the HTTP daemon\n");
    return 1;
  }
  info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  fprintf(stderr, "msg=listening port=%u mode=%s\n", info ? info->port : 0, mode_names[mode]);
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  pthread_mutex_lock(&mu);
  stopping = 1;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&mu);
  pthread_join(th, NULL);
  fprintf(stderr, "msg=stopped syncs=%llu requests=%llu\n", syncs, synced);
  close(logfd);
  return 0;
}
