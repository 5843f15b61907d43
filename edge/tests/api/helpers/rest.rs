//! REST calls on a [`TestApp`]'s edge: raw requests, and the room, message and
//! profile calls tests make over and over.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::{TestApp, User, body_json, within};

impl TestApp {
    /// The direct room of `user` and `other`, through the REST endpoint.
    pub async fn room(&self, user: &User, other: i64) -> i64 {
        let path = format!(
            "/en/api/v1/chatrooms/get_or_create_room/?user_id_1={}&user_id_2={other}",
            user.id
        );
        let (status, body) = self.call(Method::POST, &path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["room_id"].as_i64().expect("an integer room id")
    }

    /// A REST request to the first edge address, its status and JSON body (`Null` if empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let response = self.send(self.request(method, path, token)).await;
        (response.status(), body_json(response).await)
    }

    /// A request builder for `path` on the first edge address.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .request(method, format!("http://{}{path}", self.rest_addr));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> reqwest::Response {
        within(builder.send()).await.expect("the edge answers")
    }

    /// `PUT /en/api/v1/messages/{id}/edit` with `{"text": text}`.
    pub async fn edit(&self, user: &User, message_id: i64, text: &str) -> (StatusCode, Value) {
        let path = format!("/en/api/v1/messages/{message_id}/edit");
        let builder = self
            .request(Method::PUT, &path, Some(&user.token))
            .json(&serde_json::json!({ "text": text }));
        let response = self.send(builder).await;
        (response.status(), body_json(response).await)
    }

    /// `DELETE /en/api/v1/messages/{id}/delete`.
    pub async fn delete(&self, user: &User, message_id: i64) -> (StatusCode, Value) {
        let path = format!("/en/api/v1/messages/{message_id}/delete");
        self.call(Method::DELETE, &path, Some(&user.token)).await
    }

    /// `GET /users/me` as `user`.
    pub async fn me(&self, user: &User) -> Value {
        let (status, me) = self
            .call(Method::GET, "/en/api/v1/users/me", Some(&user.token))
            .await;
        assert_eq!(status, StatusCode::OK, "{me}");
        me
    }

    /// Polls `/users/me` until `is_online` is `online` (presence changes
    /// reach the core asynchronously after a socket closes).
    pub async fn wait_for_presence(&self, user: &User, online: bool) -> Value {
        within(async {
            loop {
                let me = self.me(user).await;
                if me["is_online"] == Value::Bool(online) {
                    return me;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// The room's stored messages through the REST paging endpoint, newest first.
    pub async fn messages(&self, user: &User, room: i64) -> Vec<Value> {
        let path = format!("/en/api/v1/chatrooms/{room}/messages/?limit=100");
        let (status, body) = self.call(Method::GET, &path, Some(&user.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        match body {
            Value::Array(items) => items,
            other => panic!("expected a list of messages, got {other}"),
        }
    }
}
