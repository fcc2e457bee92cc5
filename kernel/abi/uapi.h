/*
 * The Linux user-API headers (Debian's linux-libc-dev) that hx's signal,
 * thread, timer and credentials code follows. build.rs runs bindgen over this
 * file; the layout test compiles it with the C compiler. Kernel headers only:
 * glibc's struct sigaction, sigset_t and siginfo_t are not the kernel's.
 *
 * struct sigaction: asm/signal.h's x86-64 definition, {sa_handler, sa_flags,
 * sa_restorer, sa_mask} with an 8-byte sigset_t, is exactly what the kernel's
 * rt_sigaction reads and writes (the kernel's own struct sigaction lives under
 * __KERNEL__; asm-generic/signal.h's is for other architectures).
 */
#include <asm/signal.h>
#include <linux/signal.h>
#include <asm/siginfo.h>
#include <asm/sigcontext.h>
#include <asm/ucontext.h>
#include <asm/stat.h>
#include <linux/time.h>
#include <linux/time_types.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/rseq.h>
#include <linux/capability.h>
#include <linux/limits.h>
#include <linux/wait.h>
#include <linux/prctl.h>
#include <linux/mempolicy.h>
#include <linux/signalfd.h>
#include <linux/timerfd.h>
