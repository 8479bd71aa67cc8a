//! Local sources: which files a directory, a file or a list of paths stands for, in path order,
//! with the ImageFolder label and split each one's place implies. Nothing here opens a file for
//! reading except `read`.

use crate::decode::outcome::Status;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (possibly reached through a symlink) to read.
    File,
    /// Something that must not be opened for reading, or could not be listed: a row with this status.
    Refused(Status, String),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub display: String,
    pub kind: Kind,
    pub label: Option<String>,
    pub split: Option<String>,
}

/// Folder names that mark a split in `<root>/<split>/<class>/<file>`.
const SPLITS: [&str; 4] = ["train", "val", "valid", "test"];

/// Label and split from the folders between the root and the file (ImageFolder conventions).
pub fn label_and_split(folders: &[String]) -> (Option<String>, Option<String>) {
    match folders {
        [] => (None, None),
        [first, rest @ ..] if SPLITS.contains(&first.to_ascii_lowercase().as_str()) => {
            (rest.first().cloned(), Some(first.to_ascii_lowercase()))
        }
        [first, ..] => (Some(first.clone()), None),
    }
}

/// Label and split of a '/'-separated path relative to the root (an object key under a prefix),
/// by the same rule as the walk: the folders are every component but the last.
pub fn label_and_split_of_key(key: &str) -> (Option<String>, Option<String>) {
    let mut parts: Vec<String> = key.split('/').map(str::to_owned).collect();
    parts.pop();
    label_and_split(&parts)
}

/// The path as text. A byte that is not UTF-8 is written `\xNN`, not replaced by one `U+FFFD`:
/// two names differing only in such a byte must stay two rows (the frame keys files by path).
fn display(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\\x{byte:02x}"));
        }
    }
    text
}

fn special_kind(file_type: &fs::FileType) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if file_type.is_socket() {
        Some("a socket")
    } else if file_type.is_block_device() || file_type.is_char_device() {
        Some("a device file")
    } else {
        None
    }
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

struct Walker {
    recursive: bool,
    visited_dirs: HashSet<(u64, u64)>,
    entries: Vec<Entry>,
}

impl Walker {
    fn push(&mut self, path: PathBuf, kind: Kind, folders: Option<&[String]>) {
        let (label, split) = folders.map(label_and_split).unwrap_or((None, None));
        self.entries.push(Entry {
            display: display(&path),
            path,
            kind,
            label,
            split,
        });
    }

    fn walk_dir(&mut self, dir: &Path, folders: &mut Vec<String>) {
        use std::os::unix::fs::MetadataExt;
        // Nothing the walk meets disappears silently: a folder it cannot enter (e.g. a path over
        // PATH_MAX, "File name too long") is a row saying so.
        let meta = match fs::metadata(dir) {
            Ok(meta) => meta,
            Err(e) => {
                let message = format!("cannot enter directory: {e}");
                self.push(
                    dir.to_path_buf(),
                    Kind::Refused(Status::Unreadable, message),
                    Some(folders),
                );
                return;
            }
        };
        // A directory reached twice (a symlink loop, or two links to one folder) is walked once.
        if !self.visited_dirs.insert((meta.dev(), meta.ino())) {
            return;
        }
        let listing = match fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(e) => {
                let message = format!("cannot list directory: {e}");
                self.push(
                    dir.to_path_buf(),
                    Kind::Refused(Status::Unreadable, message),
                    None,
                );
                return;
            }
        };
        let mut children = Vec::new();
        for item in listing {
            match item {
                Ok(child) if !is_hidden(&child.file_name()) => children.push(child),
                Ok(_) => {}
                Err(e) => {
                    let message = format!("directory listing failed part-way: {e}");
                    self.push(
                        dir.to_path_buf(),
                        Kind::Refused(Status::Unreadable, message),
                        Some(folders),
                    );
                }
            }
        }
        children.sort_by_key(|e| e.file_name());
        for child in children {
            let path = child.path();
            let own_type = match child.file_type() {
                Ok(own_type) => own_type,
                Err(e) => {
                    let message = format!("cannot stat: {e}");
                    self.push(
                        path,
                        Kind::Refused(Status::Unreadable, message),
                        Some(folders),
                    );
                    continue;
                }
            };
            let file_type = if own_type.is_symlink() {
                match fs::metadata(&path) {
                    Ok(target) => target.file_type(),
                    Err(e) => {
                        let message = format!("broken symbolic link: {e}");
                        self.push(
                            path,
                            Kind::Refused(Status::Unreadable, message),
                            Some(folders),
                        );
                        continue;
                    }
                }
            } else {
                own_type
            };
            if file_type.is_dir() {
                if self.recursive {
                    folders.push(child.file_name().to_string_lossy().into_owned());
                    self.walk_dir(&path, folders);
                    folders.pop();
                }
            } else if let Some(what) = special_kind(&file_type) {
                let message = format!("not a regular file: {what}, skipped without opening");
                self.push(
                    path,
                    Kind::Refused(Status::Unreadable, message),
                    Some(folders),
                );
            } else {
                self.push(path, Kind::File, Some(folders));
            }
        }
    }
}

/// Every file the sources stand for, sorted by path. A directory is walked (hidden entries
/// skipped, symlinks followed once each); a file stands for itself.
pub fn collect(sources: &[PathBuf], recursive: bool) -> Vec<Entry> {
    let mut walker = Walker {
        recursive,
        visited_dirs: HashSet::new(),
        entries: Vec::new(),
    };
    for source in sources {
        match fs::metadata(source) {
            Ok(meta) if meta.is_dir() => walker.walk_dir(source, &mut Vec::new()),
            Ok(meta) => match special_kind(&meta.file_type()) {
                Some(what) => {
                    let message = format!("not a regular file: {what}, skipped without opening");
                    walker.push(
                        source.clone(),
                        Kind::Refused(Status::Unreadable, message),
                        None,
                    )
                }
                None => walker.push(source.clone(), Kind::File, None),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let message = format!("listed but not found: {e}");
                walker.push(
                    source.clone(),
                    Kind::Refused(Status::Missing, message),
                    None,
                )
            }
            Err(e) => {
                let message = format!("cannot open: {e}");
                walker.push(
                    source.clone(),
                    Kind::Refused(Status::Unreadable, message),
                    None,
                )
            }
        }
    }
    walker
        .entries
        .sort_by(|a, b| a.display.cmp(&b.display).then_with(|| a.path.cmp(&b.path)));
    // A file listed twice (a root given twice, a link) is one row.
    walker.entries.dedup_by(|a, b| a.path == b.path);
    // Two files must never share a text path (the frame keys files by it): a name that is not
    // UTF-8 can still read like another's (`i\xfe.png` is a valid name too), so each later file
    // of a run of equal texts is numbered, and the rows sorted again.
    let (mut run, mut repeat) = (String::new(), 1);
    let mut renamed = false;
    for entry in walker.entries.iter_mut() {
        if entry.display == run {
            repeat += 1;
            entry.display = format!("{run} (#{repeat})");
            renamed = true;
        } else {
            run.clone_from(&entry.display);
            repeat = 1;
        }
    }
    if renamed {
        walker.entries.sort_by(|a, b| a.display.cmp(&b.display));
    }
    walker.entries
}

/// What says a listed file changed, following symlinks: size, modification time and status
/// change time (ns since the epoch). An incremental re-audit reads a file again when any differs:
/// the ctime catches what size and mtime miss (a rewrite whose mtime was set back by `touch -d`,
/// `rsync -t` or `tar`; two files of one size and mtime swapped by renaming; a permission fixed).
pub fn version(path: &Path) -> Option<(u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    let ns = |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000).saturating_add(nanos);
    Some((
        meta.len(),
        ns(meta.mtime(), meta.mtime_nsec()),
        ns(meta.ctime(), meta.ctime_nsec()),
    ))
}

/// Entries for files listed before (by `collect`, or a manifest), one per path in the given
/// order, shown as `names` (the listing's text, which a name that is not UTF-8 cannot be rebuilt
/// from). Each is looked at again: what is no longer a regular file, or is gone, is refused
/// without opening, never walked into.
pub fn listed(paths: &[PathBuf], names: &[String]) -> Vec<Entry> {
    paths
        .iter()
        .zip(names)
        .map(|(path, name)| {
            let kind = match fs::metadata(path) {
                Ok(meta) if meta.is_dir() => Kind::Refused(
                    Status::Unreadable,
                    "a directory now, not the file that was listed".to_string(),
                ),
                Ok(meta) => match special_kind(&meta.file_type()) {
                    Some(what) => Kind::Refused(
                        Status::Unreadable,
                        format!("not a regular file: {what}, skipped without opening"),
                    ),
                    None => Kind::File,
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Kind::Refused(Status::Missing, format!("gone before it was read: {e}"))
                }
                Err(e) => Kind::Refused(Status::Unreadable, format!("cannot open: {e}")),
            };
            Entry {
                path: path.clone(),
                display: name.clone(),
                kind,
                label: None,
                split: None,
            }
        })
        .collect()
}

/// The whole file, or why not. Files over `max_bytes` are not read (a 50 GB file named .jpg).
pub fn read(path: &Path, max_bytes: u64) -> Result<Vec<u8>, (Status, String, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    // Non-blocking, so a FIFO swapped in after the walk cannot hang the scan on open.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                (Status::Missing, format!("gone before it was read: {e}"), 0)
            }
            _ => (Status::Unreadable, format!("cannot open: {e}"), 0),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| (Status::Unreadable, format!("cannot stat: {e}"), 0))?;
    if !meta.is_file() {
        let message = "not a regular file (it changed during the scan); skipped".to_string();
        return Err((Status::Unreadable, message, 0));
    }
    let size = meta.len();
    if size > max_bytes {
        let message =
            format!("file is {size} bytes, over the limit of {max_bytes} (max_bytes); not read");
        return Err((Status::TooLarge, message, size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // Read at most one byte past the limit, in case the file grew after the size check.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| (Status::Unreadable, format!("read failed: {e}"), size))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folders(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn imagefolder_layouts() {
        assert_eq!(label_and_split(&folders(&[])), (None, None));
        assert_eq!(
            label_and_split(&folders(&["cat"])),
            (Some("cat".into()), None)
        );
        assert_eq!(
            label_and_split(&folders(&["cat", "sub"])),
            (Some("cat".into()), None)
        );
        assert_eq!(
            label_and_split(&folders(&["train", "cat"])),
            (Some("cat".into()), Some("train".into()))
        );
        assert_eq!(
            label_and_split(&folders(&["Test", "dog"])),
            (Some("dog".into()), Some("test".into()))
        );
        assert_eq!(
            label_and_split(&folders(&["val"])),
            (None, Some("val".into()))
        );
    }

    #[test]
    fn names_that_are_not_utf8_stay_apart() {
        use std::os::unix::ffi::OsStrExt;
        let root = std::env::temp_dir().join(format!("ra_walk_bytes_{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        for byte in [0xfe_u8, 0xff] {
            let name = [b'i', byte, b'.', b'p', b'n', b'g'];
            fs::write(root.join(std::ffi::OsStr::from_bytes(&name)), [byte]).unwrap();
        }
        let found = collect(std::slice::from_ref(&root), true);
        let names: Vec<&str> = found
            .iter()
            .map(|e| e.display.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["i\\xfe.png", "i\\xff.png"]);
        // A valid name written like one that is not: still two rows, two texts.
        fs::write(root.join("i\\xfe.png"), [0]).unwrap();
        let found = collect(std::slice::from_ref(&root), true);
        let names: Vec<&str> = found
            .iter()
            .map(|e| e.display.rsplit('/').next().unwrap())
            .collect();
        assert_eq!(names, ["i\\xfe.png", "i\\xfe.png (#2)", "i\\xff.png"]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn walks_sorted_and_survives_symlink_loops() {
        let root = std::env::temp_dir().join(format!("ra_walk_{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("train/cat")).unwrap();
        fs::write(root.join("train/cat/b.jpg"), b"x").unwrap();
        fs::write(root.join("train/cat/a.jpg"), b"x").unwrap();
        fs::write(root.join(".hidden"), b"x").unwrap();
        std::os::unix::fs::symlink(&root, root.join("train/cat/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling.jpg")).unwrap();
        let entries = collect(std::slice::from_ref(&root), true);
        let names: Vec<_> = entries
            .iter()
            .map(|e| {
                e.path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            vec!["dangling.jpg", "train/cat/a.jpg", "train/cat/b.jpg"]
        );
        assert!(matches!(
            entries[0].kind,
            Kind::Refused(Status::Unreadable, _)
        ));
        assert_eq!(entries[1].label.as_deref(), Some("cat"));
        assert_eq!(entries[1].split.as_deref(), Some("train"));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn reading_a_fifo_neither_blocks_nor_succeeds() {
        let fifo = std::env::temp_dir().join(format!("ra_fifo_{}", std::process::id()));
        let _ = fs::remove_file(&fifo);
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
        let verdict = read(&fifo, 1 << 20);
        assert!(matches!(verdict, Err((Status::Unreadable, _, _))));
        fs::remove_file(&fifo).unwrap();
    }
}
