/*
 * kernel/main.c: kmain, the order in which the kernel comes up. Boot-time setup runs on the boot
 * stack with interrupts off; then the boot flow becomes the idle task and the "init" thread
 * finishes bringing the node up (or runs the self-tests).
 */
#include "arch/x86/acpi.h"
#include "arch/x86/gdt.h"
#include "arch/x86/irq.h"
#include "arch/x86/trap.h"
#include "drivers/e1000.h"
#include "drivers/pci.h"
#include "drivers/serial.h"
#include "drivers/vga.h"
#include "kernel/bootinfo.h"
#include "kernel/cmdline.h"
#include "kernel/kmalloc.h"
#include "kernel/ktest.h"
#include "kernel/node.h"
#include "kernel/panic.h"
#include "kernel/pmm.h"
#include "kernel/printk.h"
#include "kernel/sched.h"
#include "kernel/time.h"
#include "kernel/vm.h"

static struct bootinfo bootinfo;
static struct boot_options options;

static void cmdline_warning(const char *msg, void *ctx) { printk(LOG_WARN, "%s\n", msg); }

static void init_main(void *arg)
{
    pci_init();
    node_init(options.node);
    if (options.crash[0])
        ktest_crash(options.crash);
    if (options.ktest)
        ktest_run_all();
    printk(LOG_EMERG, "shoal: node %d ready\n", node_self());
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
    acpi_init(bootinfo.has_rsdp ? bootinfo.rsdp : NULL);
    irq_init();
    sched_init();
    timer_init();
    serial_init_irq();

    if (!kthread_create("init", init_main, NULL))
        panic("cannot start the init thread");
    irq_enable();
    sched_idle_loop();
}
