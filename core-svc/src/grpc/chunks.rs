//! One item per HTTP/2 chunk, for streams that live as long as a socket.
//!
//! tonic encodes every item that is ready into one buffer before it sends
//! them as one chunk (up to the codec's yield threshold), and that buffer,
//! like the receiver's decode buffer, keeps its largest size for the life
//! of the stream. A user stream starts with its inbox (50 conversations at
//! once, about 4 KiB), so both ends kept 4 KiB per idle user socket. Ending
//! each poll after one item makes every item its own chunk, so both
//! buffers stay at the size of one item; the cost is one wake-up per item.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::Stream;

/// `inner`, yielding to the caller after every item.
pub struct OnePerChunk<S> {
    inner: S,
    /// An item went out in this poll's turn: the next poll yields first.
    sent: bool,
}

impl<S> OnePerChunk<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, sent: false }
    }
}

impl<S: Stream + Unpin> Stream for OnePerChunk<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.sent {
            self.sent = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        self.sent = matches!(next, Poll::Ready(Some(_)));
        next
    }
}

#[cfg(test)]
mod tests {
    use futures::{StreamExt, stream};

    use super::*;

    #[tokio::test]
    async fn every_item_comes_and_a_poll_after_one_yields() {
        let mut items = OnePerChunk::new(stream::iter([1, 2, 3]));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(
            Pin::new(&mut items).poll_next(&mut cx),
            Poll::Ready(Some(1))
        );
        assert_eq!(Pin::new(&mut items).poll_next(&mut cx), Poll::Pending);
        assert_eq!(
            Pin::new(&mut items).poll_next(&mut cx),
            Poll::Ready(Some(2))
        );
        let rest: Vec<i32> = items.collect().await;
        assert_eq!(rest, [3]);
    }
}
