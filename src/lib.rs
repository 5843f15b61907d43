//! The `chat.v1` gRPC contract: generated messages, clients and servers, and
//! the encoded file descriptor set that powers server reflection.

/// Generated code of package `chat.v1`.
pub mod v1 {
    tonic::include_proto!("chat.v1");
}

/// The encoded `FileDescriptorSet` of every file in `proto/chat/v1`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("chat_v1_descriptor");
