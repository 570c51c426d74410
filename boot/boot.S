/*
 * boot/boot.S: the multiboot1 and multiboot2 headers and the 32-bit entry.
 *
 * Both loaders enter here in 32-bit protected mode with paging off. We check that the CPU has long
 * mode, build page tables that map the first 4 GiB three times (identity, so the next instruction
 * after enabling paging still exists; the direct map at DIRECT_MAP; the kernel image at KERNEL_VMA),
 * enter long mode and call kmain(magic, info) in the higher half. kernel/vm.c replaces these tables.
 */
#define KERNEL_VMA 0xffffffff80000000
#define MB2_MAGIC 0xe85250d6
#define MB1_MAGIC 0x1badb002
#define MB1_FLAGS 0x00000003            /* page-aligned modules, memory info */

    .section .multiboot, "a"
    .align 8
mb2_header:
    .long MB2_MAGIC
    .long 0                             /* i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
    .align 8
    .word 3, 0                          /* entry address tag: _start is a physical address */
    .long 12
    .long _start
    .align 8
    .word 0, 0                          /* end tag */
    .long 8
mb2_header_end:

    .align 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)

    .section .boot.text, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    mov %eax, %edi                      /* loader magic, first argument of kmain */
    mov %ebx, %esi                      /* physical address of the boot information */
    mov $boot_stack32_top, %esp

    /* CPUID exists if EFLAGS.ID can be flipped. */
    pushfl
    pop %eax
    mov %eax, %ecx
    xor $0x200000, %eax
    push %eax
    popfl
    pushfl
    pop %eax
    push %ecx
    popfl
    cmp %eax, %ecx
    je no_long_mode

    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx
    jz no_long_mode

    /* PML4: entries 0 (identity) and 256 (direct map) share the low PDPT; 511 holds the kernel. */
    mov $boot_pdpt_low + 3, %eax
    mov %eax, boot_pml4
    mov %eax, boot_pml4 + 256 * 8
    mov $boot_pdpt_high + 3, %eax
    mov %eax, boot_pml4 + 511 * 8

    /* The low PDPT points at four page directories: 4 GiB in 2 MiB pages. */
    mov $boot_pd + 3, %eax
    xor %ecx, %ecx
1:  mov %eax, boot_pdpt_low(, %ecx, 8)
    add $4096, %eax
    inc %ecx
    cmp $4, %ecx
    jb 1b

    /* KERNEL_VMA = -2 GiB is entry 510 of the last PDPT: the first GiB of physical memory. */
    mov $boot_pd + 3, %eax
    mov %eax, boot_pdpt_high + 510 * 8

    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                      /* present, writable, 2 MiB page */
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 2b

    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $(1 << 5), %eax                  /* PAE */
    mov %eax, %cr4
    mov $0xc0000080, %ecx               /* EFER */
    rdmsr
    or $(1 << 8), %eax                  /* long mode enable */
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax                /* paging, protected mode */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $long_mode_entry

no_long_mode:
    /* Tell both consoles; COM1 works with the firmware's settings, no init needed. */
    mov $no_lm_msg, %esi
    mov $0xb8000, %edi
3:  movzbl (%esi), %eax
    test %al, %al
    jz 5f
    mov $0x3fd, %dx
4:  inb %dx, %al
    test $0x20, %al
    jz 4b
    movzbl (%esi), %eax
    mov $0x3f8, %dx
    outb %al, %dx
    mov $0x4f, %ah
    mov %ax, (%edi)
    add $2, %edi
    inc %esi
    jmp 3b
5:  cli
    hlt
    jmp 5b

    .code64
long_mode_entry:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %ax, %ax
    mov %ax, %fs
    mov %ax, %gs
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %edi, %edi                      /* zero-extend both arguments */
    mov %esi, %esi
    movabs $kmain, %rax
    call *%rax
6:  cli
    hlt
    jmp 6b

    .section .boot.data, "aw"
no_lm_msg:
    .asciz "Shoal: this CPU has no 64-bit long mode; Shoal needs an x86-64 CPU. Halted."
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 64-bit code */
    .quad 0x00cf92000000ffff            /* data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .align 4096
boot_pml4:      .fill 512, 8, 0
boot_pdpt_low:  .fill 512, 8, 0
boot_pdpt_high: .fill 512, 8, 0
boot_pd:        .fill 2048, 8, 0
    .fill 256, 4, 0
boot_stack32_top:

    .section .bss
    .align 16
    .globl boot_stack_bottom, boot_stack_top
boot_stack_bottom:
    .skip 16384
boot_stack_top:
