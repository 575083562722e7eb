//! TCP sockets of processes: `/proc/PID/net/tcp{,6}` joined to processes by socket inode.
//!
//! The kernel lists sockets per network namespace, not per process; a process holds a socket
//! when one of its `/proc/PID/fd/N` links reads `socket:[INODE]`. So a sweep reads the tables
//! once per network namespace (through any member process) and joins each process's socket
//! inodes against them. Cost: one `readlink` per open fd, plus one table read per namespace;
//! the join is a hash lookup per socket fd.
//!
//! Addresses are printed by the kernel as the raw in-memory words in hex: an IPv4 address is one
//! 32-bit word (`0100007F` is 127.0.0.1 on little-endian hosts), IPv6 four such words; ports are
//! plain hex numbers.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;

use crate::error::Unreadable;
use crate::procfs::{Pid, ProcfsRoot};

/// Address family of a TCP socket table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `/proc/net/tcp`.
    Tcp,
    /// `/proc/net/tcp6`.
    Tcp6,
}

/// TCP state (`st` column; `include/net/tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpState {
    /// 01
    Established,
    /// 02
    SynSent,
    /// 03
    SynRecv,
    /// 04
    FinWait1,
    /// 05
    FinWait2,
    /// 06
    TimeWait,
    /// 07
    Close,
    /// 08
    CloseWait,
    /// 09
    LastAck,
    /// 0A
    Listen,
    /// 0B
    Closing,
    /// 0C
    NewSynRecv,
    /// Anything newer.
    Other,
}

impl TcpState {
    fn from_code(code: u8) -> TcpState {
        match code {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 => TcpState::SynRecv,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Close,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            0x0C => TcpState::NewSynRecv,
            _ => TcpState::Other,
        }
    }
}

/// One TCP socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Socket {
    /// Table it came from.
    pub protocol: Protocol,
    /// Local address and port.
    pub local: SocketAddr,
    /// Remote address and port (`0.0.0.0:0` for a listener).
    pub remote: SocketAddr,
    /// TCP state.
    pub state: TcpState,
    /// Owning uid as the kernel records it.
    pub uid: u32,
    /// Socket inode: the key `/proc/PID/fd` links name.
    pub inode: u64,
}

/// The TCP sockets of one network namespace, by inode.
#[derive(Clone, Debug, Default)]
pub struct SocketTable {
    by_inode: HashMap<u64, Socket>,
}

impl SocketTable {
    /// Parses one `/proc/net/tcp` or `tcp6` file; malformed lines (and the header) are
    /// skipped. Sockets with inode 0 (TIME_WAIT, orphans) belong to no process and are dropped.
    pub fn parse(text: &str, protocol: Protocol) -> Vec<Socket> {
        text.lines()
            .filter_map(|line| parse_line(line, protocol))
            .filter(|s| s.inode != 0)
            .collect()
    }

    /// Reads `tcp` and `tcp6` of the network namespace `pid` is in. Missing tables (no IPv6)
    /// are empty, not errors.
    pub fn read(procfs: &ProcfsRoot, pid: Pid) -> Result<SocketTable, Unreadable> {
        let mut table = SocketTable::default();
        let mut any = false;
        for (file, protocol) in [("net/tcp", Protocol::Tcp), ("net/tcp6", Protocol::Tcp6)] {
            match procfs.read(pid, file) {
                Ok(bytes) => {
                    any = true;
                    table.extend(SocketTable::parse(
                        &String::from_utf8_lossy(&bytes),
                        protocol,
                    ));
                }
                Err(Unreadable::Vanished) => {}
                Err(e) => return Err(e),
            }
        }
        if any {
            Ok(table)
        } else {
            Err(Unreadable::Vanished)
        }
    }

    /// Adds sockets.
    pub fn extend(&mut self, sockets: impl IntoIterator<Item = Socket>) {
        for s in sockets {
            self.by_inode.insert(s.inode, s);
        }
    }

    /// The socket with this inode.
    pub fn get(&self, inode: u64) -> Option<&Socket> {
        self.by_inode.get(&inode)
    }

    /// Number of sockets.
    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }
}

/// The socket inodes a process holds open (`socket:[N]` fd links).
pub fn socket_inodes(procfs: &ProcfsRoot, pid: Pid) -> Result<Vec<u64>, Unreadable> {
    let mut inodes = Vec::new();
    for fd in procfs.list(pid, "fd")? {
        let Some(fd) = fd.to_str() else { continue };
        let Ok(target) = procfs.readlink(pid, &format!("fd/{fd}")) else {
            continue;
        };
        if let Some(inode) = parse_socket_link(target.as_os_str().as_encoded_bytes()) {
            inodes.push(inode);
        }
    }
    inodes.sort_unstable();
    inodes.dedup();
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(target: &[u8]) -> Option<u64> {
    let inner = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

fn parse_line(line: &str, protocol: Protocol) -> Option<Socket> {
    let mut f = line.split_ascii_whitespace();
    let slot = f.next()?;
    if !slot.ends_with(':') {
        return None;
    }
    let local = parse_endpoint(f.next()?, protocol)?;
    let remote = parse_endpoint(f.next()?, protocol)?;
    let state = TcpState::from_code(u8::from_str_radix(f.next()?, 16).ok()?);
    // tx_queue:rx_queue, tr:tm->when, retrnsmt
    let mut f = f.skip(3);
    let uid = f.next()?.parse().ok()?;
    let _timeout = f.next()?;
    let inode = f.next()?.parse().ok()?;
    Some(Socket {
        protocol,
        local,
        remote,
        state,
        uid,
        inode,
    })
}

fn parse_endpoint(field: &str, protocol: Protocol) -> Option<SocketAddr> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match protocol {
        Protocol::Tcp if addr.len() == 8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        Protocol::Tcp6 if addr.len() == 32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn table_lines() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4634 1 0000000045d69034 100 0 0 10 0\n\
           1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4700 1 0 20 4 30 10 -1\n\
           2: 0100007F:1F90 0100007F:C351 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0\n\
           3: garbage\n";
        let got = SocketTable::parse(tcp, Protocol::Tcp);
        let got: Vec<(String, String, TcpState, u32, u64)> = got
            .into_iter()
            .map(|s| {
                (
                    s.local.to_string(),
                    s.remote.to_string(),
                    s.state,
                    s.uid,
                    s.inode,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "127.0.0.1:8080".into(),
                    "0.0.0.0:0".into(),
                    TcpState::Listen,
                    0,
                    4634
                ),
                (
                    "127.0.0.1:8080".into(),
                    "127.0.0.1:50000".into(),
                    TcpState::Established,
                    1000,
                    4700
                ),
            ]
        );
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9999 1 0\n\
           1: 0000000000000000FFFF00000100007F:0050 0000000000000000FFFF00000200007F:D431 01 00000000:00000000 00:00000000 00000000    33        0 10001 1 0\n\
           2: B80D0120000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10002 1 0\n";
        let got: Vec<String> = SocketTable::parse(tcp6, Protocol::Tcp6)
            .into_iter()
            .map(|s| format!("{} {} {:?}", s.local, s.remote, s.state))
            .collect();
        assert_eq!(
            got,
            [
                "[::1]:22 [::]:0 Listen",
                "[::ffff:127.0.0.1]:80 [::ffff:127.0.0.2]:54321 Established",
                "[2001:db8::1]:443 [::]:0 Listen",
            ]
        );
    }

    #[test]
    fn socket_links() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"socket:[12345]", Some(12345)),
            (b"socket:[]", None),
            (b"pipe:[12345]", None),
            (b"/tmp/socket:[1]", None),
            (b"anon_inode:[eventfd]", None),
        ];
        for (link, want) in cases {
            assert_eq!(parse_socket_link(link), *want, "{link:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,300}") {
            let _ = SocketTable::parse(&text, Protocol::Tcp);
            let _ = SocketTable::parse(&text, Protocol::Tcp6);
        }
    }
}
