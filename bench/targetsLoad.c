/*
 * Load for bench/targets.ts, compiled by it with `cc -O2` (node alone cannot
 * send fast enough to load the kernel's packet path):
 *   udp DST PORT NSRC FIRSTSPORT PAYLOAD SECONDS PROCS  datagrams round-robin from NSRC sockets bound to consecutive source ports; prints datagrams sent
 *   tcp DST PORT SPORT SECONDS                           one TCP stream of 128 KiB writes from a fixed source port; prints bytes written
 *   conn DST PORT SECONDS PROCS                          connect, wait for the server's close, close; prints connections completed
 *   sink PORT                                            (server) accepts and discards, a process per connection
 *   closer PORT                                          (server) accepts and resets at once
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static struct sockaddr_in addr(const char *ip, int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip ? ip : "0.0.0.0", &a.sin_addr);
  return a;
}

static int listener(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = addr(NULL, port);
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) { perror("listen"); exit(1); }
  return s;
}

static void reset_close(int s) {
  struct linger l = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(s);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  signal(SIGPIPE, SIG_IGN);
  const char *mode = argv[1];
  if (!strcmp(mode, "sink")) {
    signal(SIGCHLD, SIG_IGN);
    int l = listener(atoi(argv[2]));
    static char buf[1 << 17];
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c < 0) continue;
      if (fork() == 0) { while (read(c, buf, sizeof buf) > 0) {} _exit(0); }
      close(c);
    }
  }
  if (!strcmp(mode, "closer")) {
    int l = listener(atoi(argv[2]));
    for (;;) {
      int c = accept(l, NULL, NULL);
      if (c >= 0) reset_close(c);
    }
  }
  if (!strcmp(mode, "udp")) {
    struct sockaddr_in dst = addr(argv[2], atoi(argv[3]));
    int nsrc = atoi(argv[4]), first = atoi(argv[5]), payload = atoi(argv[6]), procs = atoi(argv[8]);
    double secs = atof(argv[7]);
    long *sent = mmap(NULL, sizeof(long) * procs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int p = 0; p < procs; p++) {
      if (fork() == 0) {
        int per = nsrc / procs, n = 0;
        int *fds = calloc(per, sizeof(int));
        for (int i = 0; i < per; i++) {
          fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
          struct sockaddr_in src = addr(NULL, first + p * per + i);
          if (bind(fds[i], (struct sockaddr *)&src, sizeof src)) { perror("bind"); _exit(1); }
          connect(fds[i], (struct sockaddr *)&dst, sizeof dst);
        }
        char buf[2048] = {0};
        double end = now() + secs;
        long count = 0;
        while (1) {
          for (int k = 0; k < 64; k++, n = (n + 1) % per) if (send(fds[n], buf, payload, MSG_DONTWAIT) == payload) count++;
          if (now() >= end) break;
        }
        sent[p] = count;
        _exit(0);
      }
    }
    long total = 0;
    for (int p = 0; p < procs; p++) wait(NULL);
    for (int p = 0; p < procs; p++) total += sent[p];
    printf("%ld\n", total);
    return 0;
  }
  if (!strcmp(mode, "tcp")) {
    struct sockaddr_in dst = addr(argv[2], atoi(argv[3])), src = addr(NULL, atoi(argv[4]));
    double secs = atof(argv[5]);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&src, sizeof src) || connect(s, (struct sockaddr *)&dst, sizeof dst)) { perror("connect"); return 1; }
    static char buf[1 << 17];
    long bytes = 0;
    double end = now() + secs;
    while (now() < end) {
      ssize_t w = write(s, buf, sizeof buf);
      if (w <= 0) break;
      bytes += w;
    }
    reset_close(s);
    printf("%ld\n", bytes);
    return 0;
  }
  if (!strcmp(mode, "conn")) {
    struct sockaddr_in dst = addr(argv[2], atoi(argv[3]));
    double secs = atof(argv[4]);
    int procs = atoi(argv[5]);
    long *done = mmap(NULL, sizeof(long) * procs * 2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    for (int p = 0; p < procs; p++) {
      if (fork() == 0) {
        double end = now() + secs;
        long ok = 0, bad = 0;
        char b[64];
        while (now() < end) {
          int s = socket(AF_INET, SOCK_STREAM, 0);
          struct timeval tv = {1, 0};
          setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
          setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
          if (connect(s, (struct sockaddr *)&dst, sizeof dst) == 0 && read(s, b, sizeof b) <= 0) ok++;
          else bad++;
          close(s);
        }
        done[p * 2] = ok;
        done[p * 2 + 1] = bad;
        _exit(0);
      }
    }
    long ok = 0, bad = 0;
    for (int p = 0; p < procs; p++) wait(NULL);
    for (int p = 0; p < procs; p++) ok += done[p * 2], bad += done[p * 2 + 1];
    printf("%ld %ld\n", ok, bad);
    return 0;
  }
  return 2;
}
