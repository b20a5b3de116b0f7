/*
 * remediation-sink.c - a fast loopback stand-in for the Kubernetes API, for
 * bench/remediation.sh.
 *
 * It answers what a rollout_restart plan sends, and nothing else:
 *   GET   /apis/apps/v1/namespaces/NS/deployments/NAME   -> 200, a Deployment
 *   PATCH /apis/apps/v1/namespaces/NS/deployments/NAME   -> 200, a Deployment
 *   anything else                                        -> 404, a Status
 * The Deployment is valid JSON of the real shape (spec.paused false, one
 * container, status converged), not stored: every answer is built afresh.
 *
 * For each Deployment path it records the CLOCK_MONOTONIC time at which the
 * first request for it arrived (its header complete), and on SIGTERM or
 * SIGINT writes them to OUT as "NAME MONO_NS METHOD" lines, then exits.
 * Counts go to stderr.  test/kube/standin.py is the faithful stand-in; this
 * one exists because the benchmark needs thousands of requests per second
 * on one core.
 *
 * One thread, epoll, non-blocking sockets, HTTP/1.1 keep-alive (libcurl in
 * runbookd opens a connection per request; both work).
 *
 *   remediation-sink OUT [PORT]     prints "port=N" on stdout when listening
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 65536
#define MAXREC (1u << 21)

struct conn {
  int fd;
  size_t len;
  char buf[BUFSZ];
};

struct rec {
  int64_t ns;
  char method;
  char name[63];
};

static struct rec *recs;
static size_t nrecs;
/* open-addressing set of Deployment names already seen */
static char (*seen)[64];
static size_t seen_cap = 1u << 22;
static unsigned long n_get, n_patch, n_other, n_conns;

static int64_t
mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
fnv(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* 1 if name was new (and is now remembered). */
static int
first_time(const char *name, size_t n)
{
  if (n >= 64)
    n = 63;
  for (size_t i = fnv(name, n) & (seen_cap - 1);; i = (i + 1) & (seen_cap - 1)) {
    if (!seen[i][0]) {
      memcpy(seen[i], name, n);
      seen[i][n] = '\0';
      return 1;
    }
    if (strlen(seen[i]) == n && memcmp(seen[i], name, n) == 0)
      return 0;
  }
}

static void
write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) { /* tiny answers: a full loopback buffer is rare */
        struct timespec ts = { 0, 50000 };
        nanosleep(&ts, NULL);
        continue;
      }
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static void
answer(int fd, int code, const char *body, int close_after)
{
  char head[256];
  int hl = snprintf(head, sizeof(head),
                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n%s\r\n",
                    code, code == 200 ? "OK" : "Not Found", strlen(body),
                    close_after ? "Connection: close\r\n" : "");
  char out[8192];
  size_t bl = strlen(body);
  if ((size_t)hl + bl <= sizeof(out)) {
    memcpy(out, head, (size_t)hl);
    memcpy(out + hl, body, bl);
    write_all(fd, out, (size_t)hl + bl);
  } else {
    write_all(fd, head, (size_t)hl);
    write_all(fd, body, bl);
  }
}

static const char *
find_header(const char *h, const char *end, const char *name)
{
  size_t nl = strlen(name);
  for (const char *p = h; p < end;) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (!eol)
      break;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      p += nl + 1;
      while (*p == ' ' || *p == '\t')
        p++;
      return p;
    }
    p = eol + 2;
  }
  return NULL;
}

static void
deployment_json(char *out, size_t n, const char *ns, const char *name, int rv)
{
  snprintf(out, n,
           "{\"kind\":\"Deployment\",\"apiVersion\":\"apps/v1\",\"metadata\":{\"name\":\"%s\","
           "\"namespace\":\"%s\",\"uid\":\"00000000-0000-4000-8000-000000000001\","
           "\"resourceVersion\":\"%d\",\"generation\":1,"
           "\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"labels\":{\"app\":\"%s\"},"
           "\"annotations\":{\"deployment.kubernetes.io/revision\":\"1\"}},"
           "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
           "\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":"
           "[{\"name\":\"app\",\"image\":\"registry.local/app:1\",\"resources\":{}}]}},"
           "\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxUnavailable\":\"25%%\","
           "\"maxSurge\":\"25%%\"}},\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600},"
           "\"status\":{\"observedGeneration\":1,\"replicas\":1,\"updatedReplicas\":1,"
           "\"readyReplicas\":1,\"availableReplicas\":1,\"conditions\":[{\"type\":\"Available\","
           "\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\"},{\"type\":\"Progressing\","
           "\"status\":\"True\",\"reason\":\"NewReplicaSetAvailable\"}]}}",
           name, ns, rv, name, name, name);
}

/* Handles every complete request in c->buf; 0 to keep the connection. */
static int
serve(struct conn *c, int64_t now)
{
  static const char prefix[] = "/apis/apps/v1/namespaces/";
  static int rv = 1000;

  for (;;) {
    char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!hend) {
      if (c->len == BUFSZ)
        return -1;
      return 0;
    }
    size_t hlen = (size_t)(hend - c->buf) + 4;
    const char *cl = find_header(c->buf, hend + 2, "Content-Length");
    size_t blen = cl ? strtoul(cl, NULL, 10) : 0;
    if (hlen + blen > BUFSZ)
      return -1;
    if (c->len < hlen + blen) {
      const char *ex = find_header(c->buf, hend + 2, "Expect");
      if (ex && strncasecmp(ex, "100-continue", 12) == 0 && c->len == hlen)
        write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
      return 0;
    }
    const char *conn = find_header(c->buf, hend + 2, "Connection");
    int close_after = conn && strncasecmp(conn, "close", 5) == 0;

    char method[16] = "", path[512] = "";
    sscanf(c->buf, "%15s %511s", method, path);
    char *q = strchr(path, '?');
    if (q)
      *q = '\0';
    char ns[64] = "", name[64] = "";
    int ok = 0;
    if (strncmp(path, prefix, sizeof(prefix) - 1) == 0) {
      const char *p = path + sizeof(prefix) - 1;
      const char *sl = strchr(p, '/');
      if (sl && (size_t)(sl - p) < sizeof(ns) && strncmp(sl, "/deployments/", 13) == 0) {
        memcpy(ns, p, (size_t)(sl - p));
        const char *nm = sl + 13;
        if (*nm && !strchr(nm, '/') && strlen(nm) < sizeof(name)) {
          strcpy(name, nm);
          ok = strcmp(method, "GET") == 0 || strcmp(method, "PATCH") == 0;
        }
      }
    }
    if (ok) {
      char body[4096];
      if (method[0] == 'G')
        n_get++;
      else
        n_patch++;
      if (first_time(name, strlen(name)) && nrecs < MAXREC) {
        struct rec *r = &recs[nrecs++];
        r->ns = now;
        r->method = method[0];
        snprintf(r->name, sizeof(r->name), "%s", name);
      }
      deployment_json(body, sizeof(body), ns, name, rv++);
      answer(c->fd, 200, body, close_after);
    } else {
      n_other++;
      answer(c->fd, 404,
             "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
             "\"message\":\"the server could not find the requested resource\","
             "\"reason\":\"NotFound\",\"details\":{},\"code\":404}",
             close_after);
    }
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    if (close_after)
      return -1;
  }
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: remediation-sink OUT [PORT]\n");
    return 2;
  }
  recs = calloc(MAXREC, sizeof(*recs));
  seen = calloc(seen_cap, sizeof(*seen));
  if (!recs || !seen)
    return 1;

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = { .sin_family = AF_INET,
                           .sin_port = htons(argc > 2 ? (uint16_t)atoi(argv[2]) : 0),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4096) < 0) {
    perror("remediation-sink: listen");
    return 1;
  }
  socklen_t al = sizeof(a);
  getsockname(ls, (struct sockaddr *)&a, &al);

  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  sigprocmask(SIG_BLOCK, &ss, NULL);
  int sfd = signalfd(-1, &ss, SFD_NONBLOCK);

  int ep = epoll_create1(0);
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  ev.data.ptr = &sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

  printf("port=%d\n", ntohs(a.sin_port));
  fflush(stdout);

  struct epoll_event evs[256];
  for (int running = 1; running;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno != EINTR)
      break;
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &sfd) {
        running = 0;
      } else if (evs[i].data.ptr == NULL) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0)
            break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          struct conn *c = malloc(sizeof(*c));
          c->fd = fd;
          c->len = 0;
          n_conns++;
          struct epoll_event ce = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
        }
      } else {
        struct conn *c = evs[i].data.ptr;
        int dead = 0;
        for (;;) {
          ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
          if (r > 0) {
            c->len += (size_t)r;
            if (serve(c, mono_ns()) < 0) {
              dead = 1;
              break;
            }
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EINTR))
            dead = 1;
          break;
        }
        if (dead) {
          close(c->fd); /* also removes it from the epoll set */
          free(c);
        }
      }
    }
  }

  FILE *f = fopen(argv[1], "w");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  for (size_t i = 0; i < nrecs; i++)
    fprintf(f, "%s %lld %s\n", recs[i].name, (long long)recs[i].ns,
            recs[i].method == 'G' ? "GET" : "PATCH");
  fclose(f);
  fprintf(stderr, "sink: GET %lu PATCH %lu other %lu connections %lu first-requests %zu\n",
          n_get, n_patch, n_other, n_conns, nrecs);
  return 0;
}
