//! The CPU time the flow's processes used, read from `/proc/<pid>/stat` (Linux): the
//! observatory and each responder (the benchmark's daemons), the requester (this process) and,
//! when it runs on this machine, the broker (RabbitMQ's `beam.smp`). A run reports it for the
//! full flow and for each single-person request, so that every run shows what bounds it: a
//! flow that uses C CPU-seconds cannot take less than C / cores seconds, however well its
//! stages overlap. Beside it, the observatory's peak resident memory (`/proc/<pid>/status`).

use std::collections::BTreeMap;

use anyhow::{anyhow, Context};

/// The CPU seconds of each process over one stretch of the run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CpuUse {
    pub observatory: f64,
    /// By body.
    pub responders: BTreeMap<String, f64>,
    /// This process: the requester, and the benchmark's own bookkeeping (small).
    pub requester: f64,
    /// RabbitMQ, when it runs on this machine (`None` otherwise, or when it cannot be told
    /// apart from another Erlang node).
    pub broker: Option<f64>,
    /// All of the above.
    pub total: f64,
}

impl CpuUse {
    /// The same figures divided by `n` (per request), times `scale` (1000: milliseconds).
    pub fn per(&self, n: u64, scale: f64) -> CpuUse {
        let f = scale / n.max(1) as f64;
        CpuUse {
            observatory: self.observatory * f,
            responders: self.responders.iter().map(|(b, s)| (b.clone(), s * f)).collect(),
            requester: self.requester * f,
            broker: self.broker.map(|s| s * f),
            total: self.total * f,
        }
    }

    /// The responders together.
    pub fn responders_total(&self) -> f64 {
        self.responders.values().sum()
    }
}

/// The processes to read: `(who, pid)`, `who` being `observatory`, `responder-<body>`,
/// `requester` or `broker`.
#[derive(Debug, Clone)]
pub struct Processes(Vec<(String, u32)>);

/// CPU seconds of each process at one moment (`None`: it could not be read).
#[derive(Debug, Clone)]
pub struct Reading(Vec<(String, Option<f64>)>);

impl Processes {
    /// The daemons (`name`, `pid`), this process, and the local broker if `broker_url` names
    /// this machine ([`local_broker`]).
    pub fn new(daemons: Vec<(String, u32)>, broker_url: &str) -> Processes {
        let mut all = daemons;
        all.push(("requester".to_owned(), std::process::id()));
        if let Some(pid) = local_broker(broker_url) {
            all.push(("broker".to_owned(), pid));
        }
        Processes(all)
    }

    pub fn read(&self) -> Reading {
        Reading(self.0.iter().map(|(who, pid)| (who.clone(), cpu_seconds(*pid))).collect())
    }
}

impl Reading {
    /// What each process used from `earlier` to this reading. A daemon that cannot be read
    /// counts 0 (it is reported as failed elsewhere); an unreadable broker is `None`.
    pub fn since(&self, earlier: &Reading) -> CpuUse {
        let mut used = CpuUse::default();
        for ((who, now), (_, then)) in self.0.iter().zip(&earlier.0) {
            let delta = match (now, then) {
                (Some(now), Some(then)) => Some((now - then).max(0.0)),
                _ => None,
            };
            match who.as_str() {
                "observatory" => used.observatory = delta.unwrap_or(0.0),
                "requester" => used.requester = delta.unwrap_or(0.0),
                "broker" => used.broker = delta,
                responder => {
                    let body = responder.strip_prefix("responder-").unwrap_or(responder);
                    used.responders.insert(body.to_owned(), delta.unwrap_or(0.0));
                }
            }
        }
        used.total = used.observatory + used.responders_total() + used.requester + used.broker.unwrap_or(0.0);
        used
    }
}

/// User and system CPU seconds of every thread of `pid`, living or ended (fields 14 and 15 of
/// `/proc/<pid>/stat`, in clock ticks).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    ticks_of_stat(&stat).map(|ticks| ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// The peak resident set size of `pid` so far (`VmHWM` of `/proc/<pid>/status`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line =
        status.lines().find(|l| l.starts_with("VmHWM:")).ok_or_else(|| anyhow!("no VmHWM in /proc/{pid}/status"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("cannot read `{line}`"))?;
    Ok(kib * 1024)
}

/// `utime + stime` of a `/proc/<pid>/stat` line. The command name (field 2, in parentheses)
/// may hold spaces and parentheses: the fields are counted after its last `)`.
fn ticks_of_stat(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (`state`) is the first: utime (14) and stime (15) are the 12th
    // and 13th.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// RabbitMQ's process, when the broker URL names this machine: the `beam.smp` that listens on
/// the URL's port (another Erlang node beside it, a test's second broker say, is not counted),
/// or, when the listening sockets cannot be matched to a process (another account's), the one
/// `beam.smp` that runs here.
fn local_broker(url: &str) -> Option<u32> {
    let uri: lapin::uri::AMQPUri = url.parse().ok()?;
    if !matches!(uri.authority.host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]") {
        return None;
    }
    let nodes: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (comm.trim_end() == "beam.smp").then_some(pid)
        })
        .collect();
    let listening = listening_sockets(uri.authority.port);
    let owner = nodes.iter().copied().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|target| {
                    let target = target.to_string_lossy();
                    target
                        .strip_prefix("socket:[")
                        .and_then(|t| t.strip_suffix(']'))
                        .and_then(|inode| inode.parse::<u64>().ok())
                        .is_some_and(|inode| listening.contains(&inode))
                })
            })
        })
    });
    owner.or_else(|| (nodes.len() == 1).then(|| nodes[0]))
}

/// The inodes of the TCP sockets listening on `port` (`/proc/net/tcp` and `tcp6`).
fn listening_sockets(port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
                    (local_port == port && *fields.get(3)? == LISTEN).then(|| fields.get(9)?.parse().ok()).flatten()
                })
                .collect::<Vec<u64>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_user_plus_system_ticks_whatever_the_name() {
        let line = "1234 (tokio (rt) worker) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        assert_eq!(ticks_of_stat(line), Some(325));
        assert_eq!(ticks_of_stat("1234 (short) S 1"), None);
    }

    #[test]
    fn a_listening_socket_of_this_process_is_found_by_its_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listening_sockets(port).len(), 1, "port {port}");
        drop(listener);
        assert!(listening_sockets(port).is_empty(), "port {port} closed");
    }

    #[test]
    fn this_process_has_a_peak_resident_size() {
        assert!(peak_rss_bytes(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spin: u64 = (0..2_000_000u64).map(|i| i ^ (i >> 3)).sum();
        assert!(spin > 0);
        assert!(cpu_seconds(std::process::id()).is_some_and(|s| s > 0.0));
    }

    #[test]
    fn usage_between_two_readings_adds_up_and_scales() {
        let earlier = Reading(vec![
            ("observatory".into(), Some(1.0)),
            ("responder-cnam".into(), Some(0.5)),
            ("requester".into(), Some(2.0)),
            ("broker".into(), Some(3.0)),
        ]);
        let later = Reading(vec![
            ("observatory".into(), Some(4.0)),
            ("responder-cnam".into(), Some(1.5)),
            ("requester".into(), Some(2.5)),
            ("broker".into(), None),
        ]);
        let used = later.since(&earlier);
        assert_eq!(used.observatory, 3.0);
        assert_eq!(used.responders.get("cnam"), Some(&1.0));
        assert_eq!(used.requester, 0.5);
        assert_eq!(used.broker, None);
        assert_eq!(used.total, 4.5);
        let per = used.per(10, 1000.0);
        assert_eq!(per.observatory, 300.0);
        assert_eq!(per.total, 450.0);
    }
}
