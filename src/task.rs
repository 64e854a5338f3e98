//! Small async helpers: a boxed future, so traits with async methods can be trait objects, and
//! a background task aborted when its guard is dropped.

use std::future::Future;
use std::pin::Pin;

/// A boxed future: what a target's async methods return, so targets can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Aborts a background task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
