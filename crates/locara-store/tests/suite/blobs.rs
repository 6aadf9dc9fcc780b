//! Blob-store behaviour: content-addressed blobs and named files.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use locara_core::digest::Digest;
use locara_store::{NamedPath, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use super::{Fixture, Random};

fn named(path: &str) -> NamedPath {
    NamedPath::new(path).unwrap()
}

/// Deterministic pseudo-random bytes.
fn bytes(length: usize, seed: u64) -> Vec<u8> {
    let mut random = Random::new(seed);
    (0..length).map(|_| random.next() as u8).collect()
}

/// A reader that yields `good` bytes and then fails, like a client that disconnects mid-upload.
struct FailingReader {
    good: Vec<u8>,
    position: usize,
}

impl AsyncRead for FailingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.position == self.good.len() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "client went away",
            )));
        }
        let end = (self.position + buffer.remaining().min(1000)).min(self.good.len());
        buffer.put_slice(&self.good[self.position..end]);
        self.position = end;
        Poll::Ready(Ok(()))
    }
}

pub async fn put_then_get_returns_the_same_bytes(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let content = bytes(10_000, 1);
    let stored = store.put(&mut content.as_slice(), None).await.unwrap();
    assert_eq!(stored.digest, Digest::of_bytes(&content));
    assert_eq!(stored.length, 10_000);
    assert!(store.exists(&stored.digest).await.unwrap());
    assert_eq!(store.len(&stored.digest).await.unwrap(), Some(10_000));
    let reader = store.get(&stored.digest).await.unwrap().unwrap();
    assert_eq!(reader.length, 10_000);
    assert_eq!(reader.read_to_vec().await.unwrap(), content);
    let reopened = fixture.open_blobs().await;
    let again = reopened.get(&stored.digest).await.unwrap().unwrap();
    assert_eq!(again.read_to_vec().await.unwrap(), content);
    let empty = store
        .put(&mut &b""[..], Some(Digest::of_bytes(b"")))
        .await
        .unwrap();
    assert_eq!(empty.length, 0);
    assert_eq!(
        store
            .get(&empty.digest)
            .await
            .unwrap()
            .unwrap()
            .read_to_vec()
            .await
            .unwrap(),
        b""
    );
}

pub async fn get_range_returns_the_slice_and_refuses_ranges_past_the_end(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let content = bytes(5000, 2);
    let digest = store
        .put(&mut content.as_slice(), None)
        .await
        .unwrap()
        .digest;
    for (start, end) in [(0, 5000), (0, 1), (100, 2000), (4999, 5000), (3000, 3000)] {
        let reader = store.get_range(&digest, start..end).await.unwrap().unwrap();
        assert_eq!(reader.length, end - start);
        assert_eq!(
            reader.read_to_vec().await.unwrap(),
            &content[start as usize..end as usize]
        );
    }
    assert!(matches!(
        store.get_range(&digest, 10..5001).await,
        Err(StoreError::BlobRangeOutOfBounds {
            start: 10,
            end: 5001,
            length: 5000,
            ..
        })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = 20..10;
    assert!(matches!(
        store.get_range(&digest, inverted).await,
        Err(StoreError::BlobRangeOutOfBounds { .. })
    ));
    assert!(
        store
            .get_range(&Digest::of_bytes(b"absent"), 0..1)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn wrong_expected_digest_is_refused_and_leaves_nothing_behind(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let content = bytes(200_000, 3);
    let claimed = Digest::of_bytes(b"something else");
    let error = store
        .put(&mut content.as_slice(), Some(claimed))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::DigestMismatch { expected, found }
            if expected == claimed && found == Digest::of_bytes(&content)),
        "{error}"
    );
    assert!(!store.exists(&claimed).await.unwrap());
    assert!(!store.exists(&Digest::of_bytes(&content)).await.unwrap());
    assert_eq!(fixture.blob_leftovers().await, Vec::<String>::new());
}

pub async fn failing_reader_leaves_nothing_behind(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let mut reader = FailingReader {
        good: bytes(150_000, 4),
        position: 0,
    };
    let error = store.put(&mut reader, None).await.unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error}");
    assert_eq!(fixture.blob_leftovers().await, Vec::<String>::new());
}

pub async fn putting_the_same_blob_twice_is_a_no_op(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let content = bytes(3000, 5);
    let digest = Digest::of_bytes(&content);
    let first = store
        .put(&mut content.as_slice(), Some(digest))
        .await
        .unwrap();
    let second = store
        .put(&mut content.as_slice(), Some(digest))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(
        store
            .get(&digest)
            .await
            .unwrap()
            .unwrap()
            .read_to_vec()
            .await
            .unwrap(),
        content
    );
    assert_eq!(fixture.blob_leftovers().await, Vec::<String>::new());
}

pub async fn missing_blobs_and_files_are_none(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let absent = Digest::of_bytes(b"never stored");
    assert!(store.get(&absent).await.unwrap().is_none());
    assert_eq!(store.len(&absent).await.unwrap(), None);
    assert!(!store.exists(&absent).await.unwrap());
    assert_eq!(store.get_named(&named("tile/0/000")).await.unwrap(), None);
}

pub async fn traversal_paths_never_reach_put_immutable(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    for path in ["../escape", "/tmp/escape", "tile/../../escape", "./x", ""] {
        let error = path.parse::<NamedPath>().unwrap_err();
        assert!(
            matches!(error, StoreError::UnsafePath { .. }),
            "{path:?}: {error}"
        );
    }
    // The closest legal spelling stays inside the store.
    store
        .put_immutable(&named("escape..x/y"), b"inside")
        .await
        .unwrap();
    assert_eq!(
        store
            .get_named(&named("escape..x/y"))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"inside"[..])
    );
}

pub async fn immutable_file_is_never_overwritten_with_different_bytes(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let path = named("tile/0/x001/234");
    let tile = bytes(8192, 6);
    store.put_immutable(&path, &tile).await.unwrap();
    store.put_immutable(&path, &tile).await.unwrap();
    let error = store
        .put_immutable(&path, &bytes(8192, 7))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::ImmutableFileConflict { path, .. } if path == "tile/0/x001/234"),
        "{error}"
    );
    assert_eq!(store.get_named(&path).await.unwrap(), Some(tile));
    assert_eq!(fixture.blob_leftovers().await, Vec::<String>::new());
}

pub async fn mutable_file_is_replaced_whole(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let path = named("checkpoint");
    store.put_mutable(&path, b"size 1\n").await.unwrap();
    store.put_mutable(&path, b"size 2, longer\n").await.unwrap();
    store.put_mutable(&path, b"size 3\n").await.unwrap();
    assert_eq!(
        store.get_named(&path).await.unwrap().as_deref(),
        Some(&b"size 3\n"[..])
    );
    assert_eq!(fixture.blob_leftovers().await, Vec::<String>::new());
}

pub async fn large_blob_streams_in_chunks(fixture: &impl Fixture) {
    let store = fixture.open_blobs().await;
    let content = bytes(5 * 1024 * 1024 + 17, 8);
    let mut reader = content.as_slice().chain(&b"tail"[..]);
    let stored = store.put(&mut reader, None).await.unwrap();
    let mut expected = content.clone();
    expected.extend_from_slice(b"tail");
    assert_eq!(stored.digest, Digest::of_bytes(&expected));
    assert_eq!(stored.length, expected.len() as u64);
    let mut reader = store.get(&stored.digest).await.unwrap().unwrap();
    let mut read_back = Vec::new();
    let mut chunk = vec![0u8; 100_000];
    loop {
        let n = reader.content.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        read_back.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(read_back, expected);
}
