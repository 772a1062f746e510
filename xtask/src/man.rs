//! The man page: clap_mangen renders the title, NAME, DESCRIPTION and
//! OPTIONS from the clap definition; the sections clap knows nothing about
//! (SYNOPSIS with both modes, SIGNALS, EXIT STATUS, ENVIRONMENT, FILES,
//! EXAMPLES, SEE ALSO) are roff written here.

use std::io::Write;

const SYNOPSIS: &str = r#".SH SYNOPSIS
.B catchd
[\fIOPTIONS\fR]
.B \-\-
\fIPROGRAM\fR [\fIARGS\fR...]
.br
.B catchd \-\-pidfile\-check
[\fB\-\-json\fR] [\fB\-\-expect\-exe\fR \fIPATH\fR] [\fB\-\-expect\-name\fR \fINAME\fR] [\fIPIDFILE\fR...]
"#;

const AFTER_OPTIONS: &str = r#".SS "Value formats"
.TP
.I DURATION
A number with a unit \fBms\fR, \fBs\fR, \fBm\fR or \fBh\fR, or a sum of them:
\fB300ms\fR, \fB10s\fR, \fB1m30s\fR, \fB1.5s\fR, \fB2h\fR. A bare number is seconds.
\fB\-\-stop\-timeout 0\fR sends SIGKILL right after the stop signal; \fB\-\-start\-timeout\fR must be above 0.
.TP
.I SIG
A signal name with or without \fBSIG\fR, in any case (\fBTERM\fR, \fBSIGTERM\fR,
\fBterm\fR), a number (\fB15\fR), or \fBRTMIN+\fIN\fR / \fBRTMAX\-\fIN\fR.
.SH SIGNALS
Every catchable signal catchd receives is forwarded to the main process
(after \fB\-\-signal\-map\fR), except SIGCHLD and the job\-control stops
(TSTP, TTIN, TTOU). Signals go through a pidfd where the kernel has one, so a
recycled PID is never hit.
.PP
\fBTERM\fR and \fBINT\fR start the stop sequence: the stop signal
(\fB\-\-stop\-signal\fR, else the received signal after \fB\-\-signal\-map\fR) goes
to the main process (every descendant with \fB\-\-kill\-mode all\fR); once the
main process has exited every remaining descendant gets it too; after
\fB\-\-stop\-timeout\fR every remaining descendant gets SIGKILL until the tree is
empty. catchd exits only when its tree is empty.
.PP
Before the main process is known, signals go to the launcher while it runs,
and are queued after it has exited, to be delivered once the main process is
known. SIGKILL cannot be caught: a SIGKILLed catchd leaves the daemon running
unless \fB\-\-contain\fR was given.
.SH "EXIT STATUS"
In run mode:
.TP
.I N
the main process exited with code \fIN\fR.
.TP
death by signal \fIN\fR
the main process was killed by signal \fIN\fR: catchd cleans up, then kills
itself with the same signal (core dumps off). With \fB\-\-exit\-128\fR, or as
PID 1, it exits 128+\fIN\fR instead.
.TP
the launcher's status
the launcher failed before the daemon was ready (mirrored the same way); the
tree emptied before a main process was known (the last failed status in the
tree, or 1 if none failed); or a stop came before a main process was known
(as the process catchd waited on ended).
.TP
.B 1
the main process was not catchd's child, so its status cannot be known.
.TP
.B 124
start\-up timed out (\fB\-\-start\-timeout\fR, a \fB\-\-ready\-when\fR condition
included), or after a handover the pidfile never became valid.
.TP
.B 125
catchd's own error: a bad option, a system call that failed, a previous
instance still running, or another catchd holding the same pidfile.
.TP
.B 126
\fIPROGRAM\fR was found but is not executable.
.TP
.B 127
\fIPROGRAM\fR was not found.
.PP
In audit mode: \fB0\fR every file is ok; \fB1\fR any other verdict; \fB2\fR a
usage error or a file that cannot be read.
.SH ENVIRONMENT
.TP
.B NOTIFY_SOCKET
set by systemd for \fBType=notify\fR: catchd sends \fBREADY=1\fR once the
daemon is ready, \fBSTATUS=\fR lines and \fBSTOPPING=1\fR. The daemon does not
see this variable; it gets the rest of catchd's environment.
.SH FILES
.TP
.I PIDFILE
given with \fB\-\-pidfile\fR: read and verified (it must name a live
descendant of catchd), never written or removed by catchd.
.TP
.I /run/*.pid, /var/run/*.pid
checked by \fB\-\-pidfile\-check\fR without arguments (depth 3 at most,
symlinks not followed).
.TP
.I /proc
the daemon's tree is read from \fI/proc/PID/task/TID/children\fR.
.TP
.I /usr/share/doc/catchd/examples/
units and service directories for systemd, supervisord, runit, s6 and containers.
.SH EXAMPLES
Hold a daemon that writes a PID file, under systemd (\fBType=notify\fR):
.PP
.RS
.nf
ExecStart=/usr/bin/catchd \-\-pidfile /run/legacyd.pid \-\- /usr/sbin/legacyd
.fi
.RE
.PP
nginx, whose graceful stop is QUIT:
.PP
.RS
.nf
catchd \-\-pidfile /run/nginx.pid \-\-signal\-map TERM:QUIT \-\-stop\-timeout 30s \-\- /usr/sbin/nginx
.fi
.RE
.PP
memcached under supervisord, without a PID file:
.PP
.RS
.nf
command=/usr/bin/catchd \-\- /usr/bin/memcached \-d \-u memcache
.fi
.RE
.PP
Audit every PID file under /run:
.PP
.RS
.nf
catchd \-\-pidfile\-check
.fi
.RE
.SH "SEE ALSO"
.BR systemd.service (5),
.BR supervisord (1),
.BR runsv (8),
.BR s6\-supervise (8),
.BR tini (1),
.BR dumb\-init (1),
.BR start\-stop\-daemon (8)
"#;

pub fn render(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd).date("");
    man.render_title(out)?;
    man.render_name_section(out)?;
    out.write_all(SYNOPSIS.as_bytes())?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    out.write_all(AFTER_OPTIONS.as_bytes())?;
    man.render_version_section(out)
}
