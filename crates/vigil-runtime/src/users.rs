//! [`UserTable`]: uid → user name from a `passwd` file.
//!
//! Read through `/proc/PID/root/etc/passwd`, so a process in a container gets the name its own
//! image gives the uid (uid 1000 is `node` in `node:20`, `app` elsewhere), without libc's
//! `getpwuid` (which would consult the *agent's* NSS configuration). NSS sources other than the
//! file (LDAP, sssd) are not consulted: such users show as a bare uid.

use std::collections::HashMap;

/// Upper bound on entries kept from one file; a hostile `passwd` cannot grow memory beyond it.
const MAX_USERS: usize = 65_536;

/// uid → name, first entry wins (as `getpwuid` does).
#[derive(Clone, Debug, Default)]
pub struct UserTable {
    names: HashMap<u32, Box<str>>,
}

impl UserTable {
    /// Parses `passwd(5)` text: `name:password:uid:gid:gecos:home:shell`. Malformed lines,
    /// comments and NIS `+`/`-` entries are skipped.
    pub fn parse(passwd: &[u8]) -> UserTable {
        let mut names = HashMap::new();
        for line in passwd.split(|&b| b == b'\n') {
            if names.len() >= MAX_USERS {
                break;
            }
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let mut fields = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.starts_with(['#', '+', '-']) {
                continue;
            }
            if let Ok(uid) = uid.trim().parse::<u32>() {
                names.entry(uid).or_insert_with(|| name.into());
            }
        }
        UserTable { names }
    }

    /// The name of `uid`, if the file lists it.
    pub fn name(&self, uid: u32) -> Option<&str> {
        self.names.get(&uid).map(|n| &**n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_lines() {
        let table = UserTable::parse(
            b"root:x:0:0:root:/root:/bin/bash\n\
              # comment\n\
              daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
              node:x:1000:1000::/home/node:/bin/sh\n\
              dup:x:1000:1000::/:/bin/sh\n\
              +nis::::::\n\
              broken:x:notanumber:0::/:\n\
              short\n\
              \xff\xfe:x:5:5::/:\n",
        );
        let cases: &[(u32, Option<&str>)] = &[
            (0, Some("root")),
            (1, Some("daemon")),
            (1000, Some("node")),
            (5, None),
            (4242, None),
        ];
        for (uid, want) in cases {
            assert_eq!(table.name(*uid), *want, "uid {uid}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = UserTable::parse(&bytes);
        }
    }
}
