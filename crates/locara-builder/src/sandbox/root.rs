//! The file system made for one sandbox: a fresh root in the sandbox's own mount namespace, holding only
//! what the request grants, so that nothing else of the host (its sockets under `/run`, `/var/run` and
//! `/tmp`, home directories, `/etc/shadow`) exists inside.
//!
//! The inner launcher stage calls [`enter_private_root`] before it applies Landlock (Landlock forbids
//! mounting once in force). The steps, all inside the sandbox's mount namespace:
//!
//! 1. make every mount private, so nothing done here propagates to the host;
//! 2. mount a small tmpfs over `/tmp` and `pivot_root` into it, keeping the host's tree at `/oldroot`
//!    (so grants below the host's `/tmp` stay reachable);
//! 3. mount the new root (a tmpfs) at `/newroot` and fill it: a private `/tmp`, a minimal `/dev`, a
//!    fresh `/proc` of the sandbox's PID namespace, read-only binds of the readable grants, read-write
//!    binds of the writable ones (at the same paths as on the host), symbolic links recreated as links,
//!    and, where not granted, a `passwd`, `group` and `hosts` naming only the build's own user;
//! 4. make the new root and `/dev` read-only, detach the host's tree, and `pivot_root` into the new root.
//!
//! Invariant: every bind of a readable grant is read-only (with all its sub-mounts) before the next
//! grant is handled, so a mount point made for a later grant can never be created in a host directory.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::unistd::{chdir, pivot_root};

/// Where the host's tree is kept while the new root is filled (inside the base tmpfs).
const OLD_ROOT: &str = "/oldroot";
/// Where the new root is filled (inside the base tmpfs).
const NEW_ROOT: &str = "/newroot";
/// Character devices the sandbox's `/dev` holds, bound from the host's.
pub(crate) const DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// What to put in the new root.
pub(crate) struct RootPlan<'a> {
    /// Bound read-only.
    pub readable: &'a [PathBuf],
    /// Bound read-write.
    pub writable: &'a [PathBuf],
    /// Size of the private `/tmp` (memory-backed), in bytes.
    pub tmp_bytes: u64,
    /// The command's uid and gid inside the sandbox, for the generated `passwd` and `group`.
    pub user: (u32, u32),
    /// The command's `HOME`, for the generated `passwd`.
    pub home: Option<String>,
}

/// What the new root got.
pub(crate) struct RootMade {
    /// A fresh `/proc` for the sandbox's PID namespace is mounted.
    pub proc: bool,
    /// Readable grants that did not exist on the host and so are not in the new root.
    pub skipped_readable: Vec<PathBuf>,
}

/// Builds the new root and enters it. Any error leaves the process in an unusable state on purpose:
/// the caller must not run the command then.
pub(crate) fn enter_private_root(plan: &RootPlan<'_>) -> Result<RootMade, String> {
    mount_at(
        None::<&Path>,
        "/",
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    // 2: a base to pivot into, so that the host's tree stays reachable at /oldroot while we fill.
    mount_at(
        Some(Path::new("tmpfs")),
        "/tmp",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=64k"),
    )?;
    chdir("/tmp").map_err(|error| format!("cannot enter the base tmpfs: {error}"))?;
    for directory in ["newroot", "oldroot"] {
        fs::create_dir(directory).map_err(|error| {
            format!("cannot create /tmp/{directory} in the base tmpfs: {error}")
        })?;
    }
    pivot_root(".", "oldroot").map_err(|error| {
        format!("cannot pivot_root into the base tmpfs: {error}; the builder needs a root that is not the initial ramfs")
    })?;
    chdir("/").map_err(|error| format!("cannot enter the base root: {error}"))?;

    // 3: the new root.
    mount_at(
        Some(Path::new("tmpfs")),
        NEW_ROOT,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )?;
    let tmp = inside("/tmp");
    fs::create_dir(&tmp).map_err(|error| creating(&tmp, error))?;
    mount_at(
        Some(Path::new("tmpfs")),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(&format!("mode=1777,size={}", plan.tmp_bytes.max(4096))),
    )?;
    make_dev()?;
    let proc = make_proc();

    let mut skipped_readable = Vec::new();
    for (path, access) in grants(plan) {
        if !bind_grant(&path, access)? {
            skipped_readable.push(path);
        }
    }
    write_identity(plan);

    // 4: seal and enter.
    // Only these mounts themselves: the writable grants and the devices below them stay writable.
    make_read_only(Path::new(NEW_ROOT), false)?;
    make_read_only(&inside("/dev"), false)?;
    umount2(OLD_ROOT, MntFlags::MNT_DETACH)
        .map_err(|error| format!("cannot detach the host's file system: {error}"))?;
    chdir(NEW_ROOT).map_err(|error| format!("cannot enter the new root: {error}"))?;
    pivot_root(".", ".")
        .map_err(|error| format!("cannot pivot_root into the new root: {error}"))?;
    // The base root is now stacked on the new one; detaching it leaves only the new root.
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|error| format!("cannot detach the base root: {error}"))?;
    chdir("/").map_err(|error| format!("cannot enter /: {error}"))?;
    Ok(RootMade {
        proc,
        skipped_readable,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// The grants in the order they are bound: shallower paths first, so a deeper grant is bound over the
/// shallower one it lies in; a symbolic link's target is granted too (with the link's access), so the
/// link resolves inside.
fn grants(plan: &RootPlan<'_>) -> Vec<(PathBuf, Access)> {
    let mut grants: Vec<(PathBuf, Access)> = Vec::new();
    let listed = plan
        .readable
        .iter()
        .map(|path| (path, Access::Read))
        .chain(plan.writable.iter().map(|path| (path, Access::Write)));
    for (path, access) in listed {
        let path = normalise(path);
        let is_link = fs::symlink_metadata(inside_old(&path))
            .map(|metadata| metadata.file_type().is_symlink())
            .unwrap_or(false);
        if is_link
            && let Ok(target) = fs::canonicalize(inside_old(&path))
            && let Ok(target) = target.strip_prefix(OLD_ROOT)
        {
            grants.push((Path::new("/").join(target), access));
        }
        grants.push((path, access));
    }
    grants.sort_by_key(|(path, _)| path.components().count());
    grants.dedup();
    grants
}

/// `path` without `.` components and trailing slashes (paths are absolute; `..` is refused earlier).
fn normalise(path: &Path) -> PathBuf {
    path.components()
        .filter(|component| !matches!(component, Component::CurDir))
        .collect()
}

/// Binds one grant into the new root; `false` when a readable grant does not exist on the host.
fn bind_grant(path: &Path, access: Access) -> Result<bool, String> {
    let source = inside_old(path);
    let target = inside(path);
    let metadata = match fs::symlink_metadata(&source) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound && access == Access::Read => {
            return Ok(false);
        }
        Err(error) => return Err(format!("cannot inspect {}: {error}", path.display())),
    };
    if metadata.file_type().is_symlink() {
        if fs::symlink_metadata(&target).is_err() {
            let link = fs::read_link(&source)
                .map_err(|error| format!("cannot read the link {}: {error}", path.display()))?;
            make_parents(&target)?;
            symlink(&link, &target).map_err(|error| creating(&target, error))?;
        }
        return Ok(true);
    }
    if fs::symlink_metadata(&target).is_err() {
        make_parents(&target)?;
        if metadata.is_dir() {
            fs::create_dir(&target).map_err(|error| creating(&target, error))?;
        } else {
            File::create(&target).map_err(|error| creating(&target, error))?;
        }
    }
    mount_at(
        Some(&source),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    if access == Access::Read {
        make_read_only(&target, true)?;
    }
    Ok(true)
}

/// A minimal `/dev`: the harmless devices bound from the host, and the usual links into `/proc`.
fn make_dev() -> Result<(), String> {
    let dev = inside("/dev");
    fs::create_dir(&dev).map_err(|error| creating(&dev, error))?;
    mount_at(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )?;
    for device in DEVICES {
        let target = inside(device);
        File::create(&target).map_err(|error| creating(&target, error))?;
        mount_at(
            Some(&inside_old(Path::new(device))),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )?;
    }
    for (name, points_to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        // POSIX shared memory and semaphores live in the private, size-limited /tmp.
        ("shm", "/tmp"),
    ] {
        let link = dev.join(name);
        symlink(points_to, &link).map_err(|error| creating(&link, error))?;
    }
    Ok(())
}

/// A fresh `/proc` of the sandbox's PID namespace; `false` where the kernel refuses it (some
/// containers mask parts of their own `/proc`, which forbids new mounts of it).
fn make_proc() -> bool {
    let proc = inside("/proc");
    fs::create_dir(&proc).is_ok()
        && mount(
            Some("proc"),
            &proc,
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .is_ok()
}

/// `passwd`, `group` and `hosts` naming only the build's user and loopback, where `/etc` is the new
/// root's own (not a granted host directory) and the file was not granted.
fn write_identity(plan: &RootPlan<'_>) {
    let (uid, gid) = plan.user;
    let home = plan.home.as_deref().unwrap_or("/");
    let mut passwd = "root:x:0:0:root:/:/usr/sbin/nologin\n".to_owned();
    let mut group = "root:x:0:\n".to_owned();
    if uid != 0 {
        passwd.push_str(&format!(
            "build:x:{uid}:{gid}:Locara build:{home}:/bin/sh\n"
        ));
    }
    if gid != 0 {
        group.push_str(&format!("build:x:{gid}:\n"));
    }
    let hosts = "127.0.0.1 localhost\n::1 localhost\n".to_owned();
    let etc = inside("/etc");
    if fs::create_dir_all(&etc).is_err() {
        return;
    }
    for (name, contents) in [("passwd", passwd), ("group", group), ("hosts", hosts)] {
        let file = etc.join(name);
        if fs::symlink_metadata(&file).is_err() {
            // A granted, read-only /etc refuses this, and then keeps what it has.
            let _ = fs::write(&file, contents);
        }
    }
}

/// Makes the mount at `target` read-only, with every mount below it if `recursive`, keeping the flags
/// the kernel locks (a user namespace may not clear `nosuid`, `nodev`, `noexec` or the atime flags of a
/// host mount).
fn make_read_only(target: &Path, recursive: bool) -> Result<(), String> {
    let mut mounts = if recursive {
        mounts_at_or_below(target)?
    } else {
        Vec::new()
    };
    if mounts.is_empty() {
        mounts.push(target.to_owned());
    }
    for point in mounts {
        let kept = statvfs(&point)
            .map_err(|error| format!("cannot read the flags of {}: {error}", point.display()))?
            .flags();
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        for (held, flag) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if kept.contains(held) {
                flags |= flag;
            }
        }
        mount(None::<&str>, &point, None::<&str>, flags, None::<&str>).map_err(|error| {
            format!(
                "cannot make {} read-only in the sandbox: {error}",
                shown(&point)
            )
        })?;
    }
    Ok(())
}

/// The mount points at or below `target`, parents first, from `/proc/self/mountinfo`.
fn mounts_at_or_below(target: &Path) -> Result<Vec<PathBuf>, String> {
    let table = fs::read_to_string("/oldroot/proc/self/mountinfo")
        .or_else(|_| fs::read_to_string("/proc/self/mountinfo"))
        .map_err(|error| format!("cannot read the mount table: {error}"))?;
    Ok(table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape(point)))
        .filter(|point| point.starts_with(target))
        .collect())
}

/// Undoes the octal escapes of `/proc/self/mountinfo` (`\040` for a space, and so on).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let digits = bytes.get(index + 1..index + 4).unwrap_or_default();
        if bytes[index] == b'\\'
            && digits.len() == 3
            && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        {
            let value = digits
                .iter()
                .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
            out.push(u8::try_from(value).unwrap_or(b'?'));
            index += 4;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn mount_at(
    source: Option<&Path>,
    target: impl AsRef<Path>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), String> {
    let target = target.as_ref();
    mount(source, target, fstype, flags, data).map_err(|error| {
        let what = match source {
            Some(source) => format!("{} on {}", shown(source), shown(target)),
            None => shown(target),
        };
        format!("cannot mount {what} in the sandbox: {error}")
    })
}

fn make_parents(target: &Path) -> Result<(), String> {
    match target.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(|error| creating(parent, error)),
        None => Ok(()),
    }
}

/// `path` (absolute) inside the new root being filled.
fn inside(path: impl AsRef<Path>) -> PathBuf {
    below(NEW_ROOT, path.as_ref())
}

/// `path` (absolute) in the host's tree while the new root is filled.
fn inside_old(path: &Path) -> PathBuf {
    below(OLD_ROOT, path)
}

fn below(base: &str, path: &Path) -> PathBuf {
    Path::new(base).join(path.strip_prefix("/").unwrap_or(path))
}

/// A path as the host or the sandbox knows it, without the staging prefixes.
fn shown(path: &Path) -> String {
    let plain = path
        .strip_prefix(NEW_ROOT)
        .or_else(|_| path.strip_prefix(OLD_ROOT))
        .map(|rest| Path::new("/").join(rest))
        .unwrap_or_else(|_| path.to_owned());
    plain.display().to_string()
}

fn creating(path: &Path, error: io::Error) -> String {
    format!(
        "cannot create {} in the sandbox's root: {error}",
        shown(path)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/tab\\011x\\134y"), "/tab\tx\\y");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/short\\04"), "/short\\04");
    }

    #[test]
    fn staging_prefixes_are_hidden_in_messages() {
        assert_eq!(shown(Path::new("/newroot/usr/lib")), "/usr/lib");
        assert_eq!(shown(Path::new("/oldroot/etc")), "/etc");
        assert_eq!(shown(Path::new("/x")), "/x");
    }
}
