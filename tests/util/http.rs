//! Plain HTTP GETs of the exporter's endpoints, decoded or as sent.

use super::wait::PATIENCE;

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub async fn get(url: &str) -> Reply {
    get_with(url, &[]).await
}

/// A GET of `url` with `headers`, given [`PATIENCE`] to answer (while tokio time runs).
pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = reqwest::Client::new().get(url).timeout(PATIENCE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: response.text().await.unwrap(),
    }
}

/// An answer with its headers and body bytes as sent (reqwest here does not decompress).
pub struct RawReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

pub async fn get_raw(url: &str, headers: &[(&str, &str)]) -> RawReply {
    let mut request = reqwest::Client::new().get(url).timeout(PATIENCE);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    RawReply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap(),
    }
}
