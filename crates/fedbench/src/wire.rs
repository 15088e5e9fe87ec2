//! Bytes on the wire, read from the kernel: `getsockopt(TCP_INFO)` on the process's own TCP
//! sockets.
//!
//! Every node and repo of a run lives in this process, so both ends of every link are sockets
//! of ours. For each socket the kernel counts `tcpi_bytes_received`: TCP payload bytes, i.e.
//! everything the protocol stack above put on the wire (for kreisnetz: TLS records carrying
//! HTTP/2 frames carrying protobuf; for samod: its 4-byte length prefix plus the message),
//! handshakes included. Summing `bytes_received` over both ends of a link counts every byte
//! once, whichever way it went. Sockets are told apart by their loopback ports.
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// One TCP socket of this process.
#[derive(Clone, Copy, Debug)]
pub struct Sock {
    pub local: SocketAddrV4,
    pub peer: SocketAddrV4,
    pub received: u64,
}

/// The IPv4 TCP sockets this process has open now, with their received byte counts.
pub fn sockets() -> Vec<Sock> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(s) = sock(fd) {
            out.push(s);
        }
    }
    out
}

fn addr(fd: i32, peer: bool) -> Option<SocketAddrV4> {
    // SAFETY: `sa` is a properly sized, zeroed sockaddr_in and `len` says its size; the
    // kernel writes at most `len` bytes. A closed or reused fd only yields an error or another
    // socket's address, which the caller tolerates.
    unsafe {
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let p = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
        let rc = if peer {
            libc::getpeername(fd, p, &mut len)
        } else {
            libc::getsockname(fd, p, &mut len)
        };
        if rc != 0 || sa.sin_family as i32 != libc::AF_INET {
            return None;
        }
        Some(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr)),
            u16::from_be(sa.sin_port),
        ))
    }
}

/// Offset of `tcpi_bytes_received` in the kernel's `struct tcp_info` (8 bytes of u8 fields,
/// 24 u32 fields, then `pacing_rate`, `max_pacing_rate`, `bytes_acked`, `bytes_received`).
const BYTES_RECEIVED_AT: usize = 8 + 24 * 4 + 3 * 8;

fn sock(fd: i32) -> Option<Sock> {
    let local = addr(fd, false)?;
    let peer = addr(fd, true)?;
    let mut buf = [0u8; 256];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` is writable for `len` bytes; TCP_INFO writes at most `len` bytes and sets
    // `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr() as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 || (len as usize) < BYTES_RECEIVED_AT + 8 {
        return None;
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&buf[BYTES_RECEIVED_AT..BYTES_RECEIVED_AT + 8]);
    Some(Sock {
        local,
        peer,
        received: u64::from_ne_bytes(v),
    })
}

/// Received-byte counters of the sockets `keep` selects, to take differences over a period.
#[derive(Clone, Default)]
pub struct Snapshot(HashMap<(SocketAddrV4, SocketAddrV4), u64>);

impl Snapshot {
    pub fn take(keep: impl Fn(&Sock) -> bool) -> Snapshot {
        Snapshot(
            sockets()
                .into_iter()
                .filter(|s| keep(s))
                .map(|s| ((s.local, s.peer), s.received))
                .collect(),
        )
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Bytes received since `before` (sockets opened since count from zero; sockets closed
    /// since are lost, which only happens here to refused duplicate links).
    pub fn since(&self, before: &Snapshot) -> u64 {
        self.0
            .iter()
            .map(|(k, v)| v.saturating_sub(before.0.get(k).copied().unwrap_or(0)))
            .sum()
    }
}

/// Sockets of links between the listeners on `ports` (either end).
pub fn on_ports(ports: &[u16]) -> impl Fn(&Sock) -> bool + '_ {
    move |s| ports.contains(&s.local.port()) || ports.contains(&s.peer.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn counts_bytes_of_a_loopback_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[7u8; 1000]).unwrap();
        let mut buf = [0u8; 1000];
        server.read_exact(&mut buf).unwrap();
        server.write_all(&[1u8; 10]).unwrap();
        client.read_exact(&mut buf[..10]).unwrap();
        let snap = Snapshot::take(on_ports(&[port]));
        assert_eq!(snap.total(), 1010);
        let server_side = Snapshot::take(|s| s.local.port() == port);
        assert_eq!(server_side.total(), 1000);
    }
}
