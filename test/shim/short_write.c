/* A preloaded library for the black-box tests: writes to sockets that go
 * wrong on purpose, every time.
 * - A write that starts with HG_SHORT_WRITE_PREFIX sends only its first
 *   HG_SHORT_WRITE_BYTES bytes, as a kernel with a nearly full send buffer
 *   would: a server that ignores a partial write sends a broken answer.
 * - A write whose bytes contain HG_FAIL_WRITE_CONTAINING fails with EPIPE, as
 *   to a client that has just reset the connection.
 *
 *   LD_PRELOAD=libshort_write.so HG_SHORT_WRITE_PREFIX='HTTP/1.1 100' HG_SHORT_WRITE_BYTES=9
 *
 * (under ASan, with ASAN_OPTIONS=verify_asan_link_order=0). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int is_socket(int fd)
{
    struct stat st;
    return !fstat(fd, &st) && S_ISSOCK(st.st_mode);
}

static int fails(int fd, const void *buf, size_t n)
{
    const char *text = getenv("HG_FAIL_WRITE_CONTAINING");
    return text && is_socket(fd) && memmem(buf, n, text, strlen(text));
}

/* How many of n bytes starting with buf go out in this write. */
static size_t allowed(int fd, const void *buf, size_t n)
{
    const char *prefix = getenv("HG_SHORT_WRITE_PREFIX");
    const char *bytes = getenv("HG_SHORT_WRITE_BYTES");
    if (!prefix || !bytes || !is_socket(fd))
        return n;
    size_t plen = strlen(prefix), cut = (size_t)strtoul(bytes, NULL, 10);
    if (n <= cut || n < plen || memcmp(buf, prefix, plen))
        return n;
    return cut;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    ssize_t (*real)(int, const void *, size_t) = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (fails(fd, buf, n)) {
        errno = EPIPE;
        return -1;
    }
    return real(fd, buf, allowed(fd, buf, n));
}

ssize_t writev(int fd, const struct iovec *iov, int count)
{
    ssize_t (*real)(int, const struct iovec *, int) =
        (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    if (count > 0 && fails(fd, iov[0].iov_base, iov[0].iov_len)) {
        errno = EPIPE;
        return -1;
    }
    if (count > 0) {
        size_t cut = allowed(fd, iov[0].iov_base, iov[0].iov_len);
        if (cut < iov[0].iov_len) {
            struct iovec first = {iov[0].iov_base, cut};
            return real(fd, &first, 1);
        }
    }
    return real(fd, iov, count);
}
