/*
 * bench/afpacket.c: the Linux-guest baseline of `make bench`: raw Ethernet round trips and one-way
 * bulk between two Linux guests, through AF_PACKET sockets on the same emulated e1000 that Shoal
 * drives. Static (musl-gcc -static); runs as a guest's only program. EtherType 0x88B6 (not Shoal's).
 *
 *   afpacket server IFACE                 echo pings, count bulk rounds, exit after the last round
 *   afpacket client IFACE PINGS FRAMES ROUNDS [SIZE]
 *
 * The client finds the server by broadcasting HELLO, then does PINGS round trips of a 64-byte frame
 * one after the other (after 20 warm-up ones) and prints their median/min/p99/max, then ROUNDS times
 * sends FRAMES frames of SIZE bytes (default 1514, Ethernet header included) as fast as the socket
 * takes them, followed by END frames. The server prints, per round, what arrived: frames, bytes and
 * MB/s (10^6 bytes/s) between the first and the last frame of the round. Result lines start with
 * "BENCH " so that the host can find them in the console log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETH_P_BENCH 0x88B6
#define PING_SIZE 64
#define WARMUP 20
#define MAX_FRAME 9018

enum { K_HELLO = 'H', K_HELLO_REPLY = 'h', K_PING = 'P', K_PONG = 'R', K_BULK = 'B', K_END = 'E' };

/* Payload after the Ethernet header: kind, round, sequence number, and for END the frames sent. */
struct msg {
    uint8_t kind;
    uint8_t round;
    uint8_t pad[2];
    uint32_t seq;
    uint32_t sent;
} __attribute__((packed));

static int sock_fd, ifindex;
static uint8_t my_mac[6];

static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what)
{
    printf("BENCH error %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void open_socket(const char *iface)
{
    struct ifreq ifr;
    struct sockaddr_ll sll;

    sock_fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_BENCH));
    if (sock_fd < 0)
        die("socket");
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, iface, IFNAMSIZ - 1);
    if (ioctl(sock_fd, SIOCGIFINDEX, &ifr) < 0)
        die("SIOCGIFINDEX");
    ifindex = ifr.ifr_ifindex;
    if (ioctl(sock_fd, SIOCGIFHWADDR, &ifr) < 0)
        die("SIOCGIFHWADDR");
    memcpy(my_mac, ifr.ifr_hwaddr.sa_data, 6);
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_BENCH);
    sll.sll_ifindex = ifindex;
    if (bind(sock_fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        die("bind");
    int big = 4 << 20;
    setsockopt(sock_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

static void build(uint8_t *f, const uint8_t *dst, uint8_t kind, uint8_t round, uint32_t seq,
                  uint32_t sent)
{
    struct msg m = { .kind = kind, .round = round, .seq = seq, .sent = sent };

    memcpy(f, dst, 6);
    memcpy(f + 6, my_mac, 6);
    f[12] = ETH_P_BENCH >> 8;
    f[13] = ETH_P_BENCH & 0xff;
    memcpy(f + 14, &m, sizeof m);
}

static void send_frame(const uint8_t *f, size_t len)
{
    while (send(sock_fd, f, len, 0) < 0) {
        if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
            die("send");
        usleep(100);
    }
}

/* Receives one frame within timeout_ms (-1: forever); returns its length or 0 on timeout. */
static ssize_t recv_frame(uint8_t *f, int timeout_ms)
{
    struct pollfd p = { .fd = sock_fd, .events = POLLIN };

    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            return 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            die("poll");
        ssize_t n = recv(sock_fd, f, MAX_FRAME, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("recv");
        if (n >= 14 + (ssize_t)sizeof(struct msg))
            return n;
    }
}

static const struct msg *msg_of(const uint8_t *f)
{
    return (const struct msg *)(f + 14);
}

static int server(void)
{
    static uint8_t f[MAX_FRAME], out[PING_SIZE];
    uint64_t first = 0, last = 0, frames = 0, bytes = 0;
    int round = -1;

    printf("BENCH server ready\n");
    fflush(stdout);
    for (;;) {
        ssize_t n = recv_frame(f, -1);
        const struct msg *m = msg_of(f);
        if (m->kind == K_HELLO || m->kind == K_PING) {
            build(out, f + 6, m->kind == K_HELLO ? K_HELLO_REPLY : K_PONG, 0, m->seq, 0);
            send_frame(out, PING_SIZE);
        } else if (m->kind == K_BULK) {
            uint64_t t = now_ns();
            if (m->round != round) {
                round = m->round;
                first = t;
                frames = bytes = 0;
            }
            last = t;
            frames++;
            bytes += (uint64_t)n;
        } else if (m->kind == K_END && m->round == round) {
            uint64_t us = (last - first) / 1000;
            printf("BENCH bulk round=%d frames=%llu sent=%u bytes=%llu usec=%llu MBps=%.1f\n",
                   round, (unsigned long long)frames, m->sent, (unsigned long long)bytes,
                   (unsigned long long)us, us ? (double)bytes / (double)us : 0.0);
            fflush(stdout);
            round = -1;
            if (m->seq)             /* the last round */
                return 0;
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void find_server(uint8_t *server_mac)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static uint8_t f[MAX_FRAME], out[PING_SIZE];
    uint64_t deadline = now_ns() + 120ull * 1000000000ull;

    while (now_ns() < deadline) {
        build(out, bcast, K_HELLO, 0, 0, 0);
        send_frame(out, PING_SIZE);
        if (recv_frame(f, 100) && msg_of(f)->kind == K_HELLO_REPLY) {
            memcpy(server_mac, f + 6, 6);
            return;
        }
    }
    errno = ETIMEDOUT;
    die("no server answered");
}

static void pings(const uint8_t *server_mac, int count)
{
    static uint8_t f[MAX_FRAME], out[PING_SIZE];
    uint64_t *rtt = calloc((size_t)count, sizeof *rtt);
    int got = 0, lost = 0;

    if (!rtt)
        die("calloc");
    for (int i = 0; i < WARMUP + count; i++) {
        build(out, server_mac, K_PING, 0, (uint32_t)i, 0);
        uint64_t t0 = now_ns();
        send_frame(out, PING_SIZE);
        for (;;) {
            if (!recv_frame(f, 500)) {
                lost++;
                break;
            }
            if (msg_of(f)->kind == K_PONG && msg_of(f)->seq == (uint32_t)i) {
                if (i >= WARMUP)
                    rtt[got++] = now_ns() - t0;
                break;
            }
        }
    }
    qsort(rtt, (size_t)got, sizeof *rtt, cmp_u64);
    if (got)
        printf("BENCH ping count=%d min_us=%llu median_us=%llu p99_us=%llu max_us=%llu lost=%d\n",
               got, (unsigned long long)rtt[0] / 1000, (unsigned long long)rtt[got / 2] / 1000,
               (unsigned long long)rtt[(got * 99 + 99) / 100 - 1] / 1000,
               (unsigned long long)rtt[got - 1] / 1000, lost);
    else
        printf("BENCH ping count=0 lost=%d\n", lost);
    fflush(stdout);
    free(rtt);
}

static void bulk(const uint8_t *server_mac, int round, int last, uint32_t frames, size_t size)
{
    static uint8_t f[MAX_FRAME];
    uint64_t t0 = now_ns();

    memset(f, 0x5a, sizeof f);
    for (uint32_t i = 0; i < frames; i++) {
        build(f, server_mac, K_BULK, (uint8_t)round, i, 0);
        send_frame(f, size);
    }
    uint64_t us = (now_ns() - t0) / 1000;
    /* END, a few times in case one is lost; the server reports the round at the first. */
    for (int i = 0; i < 10; i++) {
        build(f, server_mac, K_END, (uint8_t)round, (uint32_t)last, frames);
        send_frame(f, PING_SIZE);
        usleep(20000);
    }
    printf("BENCH sent round=%d frames=%u size=%zu usec=%llu\n", round, frames, size,
           (unsigned long long)us);
    fflush(stdout);
    usleep(200000);             /* let the server finish printing before the next round */
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        open_socket(argv[2]);
        return server();
    }
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "client") == 0) {
        uint8_t server_mac[6];
        int count = atoi(argv[3]), rounds = atoi(argv[5]);
        uint32_t frames = (uint32_t)strtoul(argv[4], NULL, 10);
        size_t size = argc == 7 ? strtoul(argv[6], NULL, 10) : 1514;
        if (size < 64 || size > MAX_FRAME || rounds < 1 || rounds > 200 || count < 1) {
            fprintf(stderr, "afpacket: bad arguments\n");
            return 2;
        }
        open_socket(argv[2]);
        find_server(server_mac);
        printf("BENCH client found server %02x:%02x:%02x:%02x:%02x:%02x\n", server_mac[0],
               server_mac[1], server_mac[2], server_mac[3], server_mac[4], server_mac[5]);
        pings(server_mac, count);
        for (int r = 0; r < rounds; r++)
            bulk(server_mac, r, r == rounds - 1, frames, size);
        return 0;
    }
    fprintf(stderr, "usage: afpacket server IFACE | afpacket client IFACE PINGS FRAMES ROUNDS [SIZE]\n");
    return 2;
}
