/*
 * kernel/main.c: kmain, the order in which the kernel comes up. Boot-time setup runs on the boot
 * stack with interrupts off; then the boot flow becomes the idle task and the "init" thread
 * finishes bringing the node up (or runs the self-tests).
 */
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/gdt.h"
#include "arch/x86/percpu.h"
#include "arch/x86/irq.h"
#include "arch/x86/trap.h"
#include "drivers/e1000.h"
#include "drivers/pci.h"
#include "drivers/serial.h"
#include "drivers/vga.h"
#include "kernel/bootinfo.h"
#include "kernel/cmdline.h"
#include "kernel/fpu.h"
#include "kernel/kmalloc.h"
#include "kernel/mm.h"
#include "kernel/ktest.h"
#include "kernel/node.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"
#include "kernel/random.h"
#include "kernel/balancer.h"
#include "kernel/deputy.h"
#include "kernel/migrate.h"
#include "kernel/ssi.h"
#include "kernel/syscall.h"
#include "kernel/tty.h"
#include "kernel/vfs.h"
#include "kernel/wallclock.h"
#include "net/netdev.h"
#include "net/rpc.h"
#include "kernel/sched.h"
#include "kernel/time.h"
#include "kernel/vm.h"

static struct bootinfo bootinfo;
static struct boot_options options;

static void cmdline_warning(const char *msg, void *ctx) { printk(LOG_WARN, "%s\n", msg); }

static void mount_initial_filesystems(void)
{
    vfs_init();
    for (int i = 0; i < bootinfo.nmods; i++) {
        const struct boot_module *m = &bootinfo.mods[i];
        int r = initrd_unpack(P2V(m->start), m->end - m->start);
        if (r)
            printk(LOG_ERR, "initrd: module %d (%s): error %d\n", i, m->name, r);
    }
    tty_init();
    struct fs_context *ctx = fs_context_new();
    if (!ctx || vfs_mount(ctx, "/proc", procfs_root()) != 0)
        printk(LOG_WARN, "init: could not mount /proc\n");
    if (ctx)
        fs_context_put(ctx);
}

static void start_user_space(void)
{
    static char *const argv_init[] = { "/init", NULL };
    static char *const argv_sh[] = { "/bin/sh", NULL };
    static char *const envp[] = { "HOME=/root", "TERM=linux", "PATH=/bin:/sbin:/usr/bin:/usr/sbin", NULL };
    int r = proc_spawn_init("/init", argv_init, envp);
    printk(LOG_ERR, "init: cannot run /init (error %d), trying /bin/sh\n", r);
    r = proc_spawn_init("/bin/sh", argv_sh, envp);
    printk(LOG_ERR, "init: cannot run /bin/sh (error %d): no user space on this node\n", r);
}

static void init_main(void *arg)
{
    pci_init();
    node_init(options.node);
    e1000_init();                       /* rings, interrupt, polling thread; -ENODEV without a card */
    procfs_init();
    mount_initial_filesystems();
    net_init(&options);                 /* the cluster engine, the "net" thread, node membership */
    rpc_init();                         /* calls between nodes: workers, echo and bulk-sink services */
    netproc_init();                     /* /proc/cluster */
    ssi_init();                         /* the cluster-wide process table */
    deputy_init();                      /* processes running away from home */
    migrate_init();
    balancer_init(&options);            /* load balancing: gossip, decisions, moves */
    if (options.crash[0])
        ktest_crash(options.crash);
    if (options.ktest)
        ktest_run_all();
    printk(LOG_EMERG, "shoal: node %d ready\n", node_self());
    start_user_space();
}

void kmain(uint32_t magic, uint64_t info_phys)
{
    serial_init_early();
    vga_init();
    printk(LOG_EMERG, "Shoal (x86-64) booting\n");
    if (!bootinfo_parse(magic, info_phys, &bootinfo))
        panic("not started by a multiboot loader (magic %#x)", magic);
    printk(LOG_INFO, "boot: %s, command line \"%s\"\n", bootinfo.loader, bootinfo.cmdline);
    cmdline_parse(bootinfo.cmdline, &options, cmdline_warning, NULL);
    printk_set_level(options.loglevel);

    gdt_init();
    idt_init();
    pmm_init(&bootinfo);
    vm_init();
    kmalloc_init();
    pmm_refs_init();
    procfs_set_cmdline(bootinfo.cmdline);
    acpi_init(bootinfo.has_rsdp ? bootinfo.rsdp : NULL);
    irq_init();
    sched_init();
    timer_init();
    wallclock_init();
    random_init(rdtsc() ^ wallclock_ns());
    fpu_init();
    percpu_init();
    syscall_init();
    proc_init();
    serial_init_irq();

    if (!kthread_create("init", init_main, NULL))
        panic("cannot start the init thread");
    irq_enable();
    sched_idle_loop();
}
