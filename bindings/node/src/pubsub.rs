//! Pub/sub: lands with the engine's `Db::subscribe`.

use napi::sys::{napi_env, napi_value};

use crate::js::JsResult;

pub fn export(_env: napi_env, _exports: napi_value) -> JsResult<()> {
    Ok(())
}
