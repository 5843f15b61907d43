//! `chat.v1.UserService`: who the caller is, and the profiles they may see.

use chat_proto::v1::{self as pb, user_service_server::UserService};
use tonic::{Request, Response, Status};

use super::Authenticator;
use crate::{domain::UserId, error::Error, store::Store};

pub struct UserApi {
    auth: Authenticator,
    store: Store,
}

impl UserApi {
    pub fn new(auth: Authenticator, store: Store) -> Self {
        Self { auth, store }
    }
}

#[tonic::async_trait]
impl UserService for UserApi {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.auth.authenticate(&request).await?;
        let user = self
            .store
            .user(caller.id)
            .await?
            .ok_or(Error::NotFound("user not found"))?;
        Ok(Response::new(pb::User {
            token_exp: caller.token_exp,
            ..user.into()
        }))
    }

    #[tracing::instrument(skip_all, fields(user_id, target_id = request.get_ref().user_id))]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.auth.caller(&request).await?;
        let id = UserId::parse(request.get_ref().user_id).map_err(Error::from)?;
        let user = self
            .store
            .visible_user(id, caller)
            .await?
            .ok_or(Error::NotFound("user not found"))?;
        Ok(Response::new(user.into()))
    }
}
