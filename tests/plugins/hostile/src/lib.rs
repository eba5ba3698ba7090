//! A serializer that misbehaves on demand, chosen by the event's name, to
//! test that the engine contains it. Any other name echoes the source object.

use std::sync::atomic::{AtomicU32, Ordering};

use wasmhook_sdk::{Decision, Delivery, Event, FollowUp, Level, Result, log};

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    match event.name.as_str() {
        "hostile.loop" => spin(),
        "hostile.memory_bomb" => hoard(),
        "hostile.trap" => panic!("hostile plugin panicked on purpose"),
        "hostile.bad_json" => Ok(Delivery::from_json("{not json".into()).into()),
        "hostile.log_flood" => {
            for n in 0..10_000 {
                log!(Level::Info, "line {n}");
            }
            Ok(Decision::skip("flooded"))
        }
        "hostile.stdout" => {
            println!("written to stdout");
            eprintln!("written to stderr");
            Ok(Decision::skip("printed"))
        }
        "hostile.ambient" => ambient(),
        "hostile.counter" => {
            // Guest state that survives between calls on one instance.
            static CALLS: AtomicU32 = AtomicU32::new(0);
            Ok(Delivery::from_json(CALLS.fetch_add(1, Ordering::Relaxed).to_string()).into())
        }
        "hostile.huge_output" => Ok(Delivery::from_json(format!("\"{}\"", "x".repeat(4 << 20))).into()),
        // Each event emits itself again as a follow-up: only the engine's
        // depth limit ends the chain.
        "hostile.recurse" => {
            let follow_up = FollowUp::new("hostile.recurse", &std::collections::BTreeMap::<String, String>::new())?;
            Ok(Delivery::from_json("{}".into()).emit(follow_up).into())
        }
        _ => Ok(Delivery::from_json(event.raw_data().to_owned()).into()),
    }
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn hoard() -> Result<Decision> {
    let mut hoard = Vec::new();
    loop {
        hoard.push(std::hint::black_box(Vec::<u8>::with_capacity(1 << 20)));
        if hoard.len() == usize::MAX {
            return Ok(Decision::skip("unreachable"));
        }
    }
}

/// What the plugin can see of the world: nothing, if the host is right.
fn ambient() -> Result<Decision> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let seen = format!(
        r#"{{"env":{},"args":{},"now":{},"root_dir":{},"cwd_file":{}}}"#,
        std::env::vars().count(),
        std::env::args().count(),
        now,
        std::fs::read_dir("/").is_ok(),
        std::fs::read("Cargo.toml").is_ok(),
    );
    Ok(Delivery::from_json(seen).into())
}
