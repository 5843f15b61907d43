//! The closed set of gRPC method paths this core serves, read once from the
//! compiled-in file descriptor sets (chat, health, reflection). Metric labels
//! come from it: a call to any other path is labelled `other`, so a client
//! cannot grow the metrics by inventing paths.

use std::collections::HashSet;

use prost::Message;
use prost_types::FileDescriptorSet;

/// The label of every path that is no served method.
pub const OTHER: &str = "other";

/// Every `/package.Service/Method` path of the served services.
#[derive(Debug, Clone, Default)]
pub struct ServedMethods {
    paths: HashSet<String>,
}

impl ServedMethods {
    /// The methods of the chat services, health and reflection (v1 and v1alpha).
    pub fn of_this_server() -> Self {
        Self::from_descriptor_sets(&[
            chat_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ])
    }

    /// The methods of every service in these encoded `FileDescriptorSet`s;
    /// one that does not decode adds nothing (its calls count as `other`).
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> Self {
        let mut paths = HashSet::new();
        for encoded in sets {
            match FileDescriptorSet::decode(*encoded) {
                Ok(set) => paths.extend(method_paths(&set)),
                Err(error) => tracing::error!(%error, "a file descriptor set does not decode"),
            }
        }
        Self { paths }
    }

    /// `path` when it is a served method, otherwise [`OTHER`].
    pub fn label<'a>(&self, path: &'a str) -> &'a str {
        if self.paths.contains(path) {
            path
        } else {
            OTHER
        }
    }
}

fn method_paths(set: &FileDescriptorSet) -> impl Iterator<Item = String> + '_ {
    set.file.iter().flat_map(|file| {
        let package = file.package();
        file.service.iter().flat_map(move |service| {
            service
                .method
                .iter()
                .map(move |method| format!("/{package}.{}/{}", service.name(), method.name()))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_methods_keep_their_path() {
        let methods = ServedMethods::of_this_server();
        for path in [
            "/chat.v1.MessageService/SendMessage",
            "/chat.v1.UserService/WhoAmI",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(methods.label(path), path);
        }
    }

    #[test]
    fn any_other_path_is_other() {
        let methods = ServedMethods::of_this_server();
        for path in ["/x.Y/Z", "/chat.v1.MessageService/Nope", "", "/"] {
            assert_eq!(methods.label(path), OTHER, "{path}");
        }
    }
}
