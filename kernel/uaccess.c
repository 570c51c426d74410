/*
 * kernel/uaccess.c: copies between kernel and user memory. The range check rejects anything that
 * is not entirely in the user half (including p + n wrapping around); the copy itself runs under
 * an exception-table fixup, and the page-fault handler first tries to fault the page in as the
 * process would (demand paging, copy-on-write, stack growth), so only a truly bad pointer gives
 * -EFAULT.
 */
#include "kernel/uaccess.h"
#include "kernel/deputy.h"
#include "kernel/errno.h"
#include "kernel/mm.h"
#include "kernel/vm.h"

long copy_safe(void *dst, const void *src, uint64_t n);

bool user_range_ok(uint64_t addr, uint64_t n)
{
    return addr + n >= addr && addr + n <= USER_TOP;
}

long copy_from_user(void *dst, const void *usrc, size_t n)
{
    if (deputy_current())               /* the memory is on the node the process runs on */
        return deputy_copy_from_user(dst, usrc, n);
    if (!user_range_ok((uint64_t)usrc, n))
        return -EFAULT;
    return copy_safe(dst, usrc, n) ? -EFAULT : 0;
}

long copy_to_user(void *udst, const void *src, size_t n)
{
    if (deputy_current())
        return deputy_copy_to_user(udst, src, n);
    if (!user_range_ok((uint64_t)udst, n))
        return -EFAULT;
    return copy_safe(udst, src, n) ? -EFAULT : 0;
}

long clear_user(void *udst, size_t n)
{
    static const char zeros[256];
    while (n) {
        size_t k = n < sizeof zeros ? n : sizeof zeros;
        if (copy_to_user(udst, zeros, k))
            return -EFAULT;
        udst = (char *)udst + k;
        n -= k;
    }
    return 0;
}

/* Copies page by page so a string that ends just before an unmapped page is still fine. */
long strncpy_from_user(char *dst, const char *usrc, size_t max)
{
    if (deputy_current()) {
        long r = deputy_prefetched_string(dst, usrc, max);
        if (r != -EAGAIN)
            return r;
    }
    size_t done = 0;
    while (done < max) {
        uint64_t addr = (uint64_t)usrc + done;
        size_t chunk = PAGE_SIZE - (addr & (PAGE_SIZE - 1));
        if (chunk > max - done)
            chunk = max - done;
        if (copy_from_user(dst + done, (const void *)addr, chunk))
            return -EFAULT;
        for (size_t i = 0; i < chunk; i++)
            if (dst[done + i] == 0)
                return done + i;
        done += chunk;
    }
    if (max)
        dst[max - 1] = 0;
    return -ENAMETOOLONG;
}
