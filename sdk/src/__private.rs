//! The guest side of the WIT contract: generated bindings and the glue the
//! attribute macros call. Compiled for wasm32 only.

pub use wit_bindgen;

wit_bindgen::generate!({
    inline: "
        package wasmhook:sdk-support;
        world support {
            import wasmhook:plugin/types@0.1.0;
            import wasmhook:plugin/host@0.1.0;
        }
    ",
    path: "wit",
    world: "wasmhook:sdk-support/support",
    generate_unused_types: true,
    generate_all,
});

pub use wasmhook::plugin::{host, types};

use crate::{Decision, Event, FollowUp, Level, Request};

pub(crate) fn host_log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => host::Level::Trace,
        Level::Debug => host::Level::Debug,
        Level::Info => host::Level::Info,
        Level::Warn => host::Level::Warn,
        Level::Error => host::Level::Error,
    };
    host::log(level, message);
}

/// Runs a serializer on an event coming from the host.
pub fn serialize(f: fn(Event) -> crate::Result<Decision>, event: types::Event) -> Result<types::Decision, String> {
    let event = Event::from_parts(event.id, event.name, event.action, event.academy, event.occurred_at, event.data);
    Ok(match f(event)? {
        Decision::Skip(reason) => types::Decision::Skip(reason),
        Decision::Deliver(delivery) => {
            let (payload, academy_override, emit) = delivery.into_parts();
            types::Decision::Deliver(types::Delivery {
                payload,
                academy_override,
                emit: emit.into_iter().map(follow_up).collect(),
            })
        }
    })
}

fn follow_up(f: FollowUp) -> types::FollowUp {
    types::FollowUp { name: f.name, academy: f.academy, data: f.data }
}

/// Runs a transformer on a request coming from the host.
pub fn transform(
    f: fn(&str, Request) -> crate::Result<Option<Request>>,
    event_name: String,
    req: types::Request,
) -> Result<Option<types::Request>, String> {
    let req = Request { url: req.url, method: req.method, headers: req.headers, body: req.body };
    Ok(f(&event_name, req)?.map(|r| types::Request { url: r.url, method: r.method, headers: r.headers, body: r.body }))
}
