//! The `chat.v1` gRPC contract: generated messages, clients and servers,
//! and the encoded file descriptor set that powers server reflection. (The
//! contract's size rules are `service_kit::limits`, which both services apply.)

/// Generated code of package `chat.v1`.
pub mod v1 {
    tonic::include_proto!("chat.v1");
}

/// The encoded `FileDescriptorSet` of every file in `proto/chat/v1`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("chat_v1_descriptor");

pub mod codec {
    //! The protobuf codec of every `chat.v1` client and server: prost's, with
    //! a 256-byte starting buffer per call instead of tonic's 8 KiB. Chat
    //! messages are small and a `Subscribe` stream lives as long as a
    //! WebSocket, so this is most of a stream's memory at both ends; the
    //! buffer still grows for a large message.

    use std::marker::PhantomData;

    use tonic::codec::{BufferSettings, Codec};
    use tonic_prost::{ProstDecoder, ProstEncoder};

    const BUFFER: usize = 256;
    const YIELD_THRESHOLD: usize = 32 * 1024;

    /// prost encoding with small buffers.
    #[derive(Debug, Clone, Copy)]
    pub struct CompactCodec<T, U>(PhantomData<(T, U)>);

    impl<T, U> Default for CompactCodec<T, U> {
        fn default() -> Self {
            Self(PhantomData)
        }
    }

    impl<T, U> Codec for CompactCodec<T, U>
    where
        T: prost::Message + Send + 'static,
        U: prost::Message + Default + Send + 'static,
    {
        type Encode = T;
        type Decode = U;
        type Encoder = ProstEncoder<T>;
        type Decoder = ProstDecoder<U>;

        fn encoder(&mut self) -> Self::Encoder {
            ProstEncoder::new(BufferSettings::new(BUFFER, YIELD_THRESHOLD))
        }

        fn decoder(&mut self) -> Self::Decoder {
            ProstDecoder::new(BufferSettings::new(BUFFER, YIELD_THRESHOLD))
        }
    }
}
