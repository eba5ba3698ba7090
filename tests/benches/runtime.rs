//! Plugin runtime benchmark: `cargo bench -p wasmhook-tests --bench runtime`.
//!
//! For every documented payload (seed 001), prints the cost per event of
//! the bundled serializer compiled natively, then run through the runtime
//! as the engine runs it (a warm instance reused for events of the same
//! academy) and with a fresh store and instance for every call (the cost of
//! an academy's first event, or of `warm_instances = 0`), with the ratios to
//! native. Then one serializer called for 1,000 academies in round robin, on
//! one and on two threads, against one academy, with the default warm pool
//! and with one smaller than the academies (every call a fresh instance).
//! Then the start-up cost of all bundled plugins: compiling them (cold)
//! versus loading cached artifacts (warm).

use std::hint::black_box;
use std::time::{Duration, Instant};

use wasmhook::bundled::{self, BUNDLED};
use wasmhook::runtime::{Runtime, RuntimeConfig, World};
use wasmhook_sdk::{Decision, Event, Result};
use wasmhook_tests::{Fixture, fixtures};

const ROUNDS: usize = 5;
const ITERATIONS: u32 = 2_000;

/// The bundled serializers, compiled natively into this benchmark.
fn native(plugin: &str) -> fn(Event) -> Result<Decision> {
    match plugin {
        "admissions" => wasmhook_plugin_admissions::serialize,
        "assignments" => wasmhook_plugin_assignments::serialize,
        "events" => wasmhook_plugin_events::serialize,
        "marketing" => wasmhook_plugin_marketing::serialize,
        "mentorship" => wasmhook_plugin_mentorship::serialize,
        "payments" => wasmhook_plugin_payments::serialize,
        other => panic!("no native build of {other}"),
    }
}

/// The best mean over a few rounds, per iteration: the figure least
/// disturbed by whatever else the machine does.
fn per_iteration(mut f: impl FnMut()) -> Duration {
    for _ in 0..ITERATIONS / 10 {
        f();
    }
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..ITERATIONS {
                f();
            }
            started.elapsed() / ITERATIONS
        })
        .min()
        .expect("at least one round")
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn serializers(fixtures: &[Fixture]) {
    let warm = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let fresh = Runtime::new(RuntimeConfig { warm_instances: 0, ..RuntimeConfig::default() }).expect("runtime");
    println!(
        "{:<46} {:>6} {:>9} {:>9} {:>6} {:>9} {:>6}",
        "event", "bytes", "native µs", "warm µs", "ratio", "fresh µs", "ratio"
    );
    let (mut warm_ratios, mut fresh_ratios) = (Vec::new(), Vec::new());
    for fixture in fixtures {
        let event = fixture.event();
        let serialize = native(&fixture.plugin);
        let native = per_iteration(|| {
            let event = Event::new(event.name.clone(), event.data.clone());
            black_box(serialize(black_box(event)).expect("serializes"));
        });
        let through = |runtime: &Runtime| {
            let plugin =
                runtime.load_serializer(&fixture.plugin, bundled::find(&fixture.plugin).unwrap().wasm).unwrap();
            per_iteration(|| {
                black_box(runtime.serialize(&plugin, &event).result.expect("serializes"));
            })
        };
        let (warm, fresh) = (through(&warm), through(&fresh));
        let ratio = |d: Duration| d.as_secs_f64() / native.as_secs_f64();
        warm_ratios.push(ratio(warm));
        fresh_ratios.push(ratio(fresh));
        println!(
            "{:<46} {:>6} {:>9.1} {:>9.1} {:>5.1}x {:>9.1} {:>5.1}x",
            fixture.event,
            event.data.len(),
            micros(native),
            micros(warm),
            ratio(warm),
            micros(fresh),
            ratio(fresh)
        );
    }
    let summary = |ratios: &[f64]| {
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        format!("mean {mean:.1}x, worst {:.1}x", ratios.iter().cloned().fold(0.0, f64::max))
    };
    println!("warm / native: {}; fresh / native: {}", summary(&warm_ratios), summary(&fresh_ratios));
}

/// The marketing serializer over `ACADEMIES` academies in round robin, on
/// one and two threads at once, against every call from one academy: with
/// the default warm pool (every academy's instance kept) and with one of 64
/// (more academies than instances kept: every call a fresh instance, the
/// pool slots given back and reused as fast as they can be).
fn many_academies(fixtures: &[Fixture]) {
    const ACADEMIES: usize = 1_000;
    let fixture = fixtures.iter().find(|f| f.plugin == "marketing").expect("a marketing fixture");
    let events: Vec<_> = (0..ACADEMIES)
        .map(|n| wasmhook::runtime::Event { academy: Some(format!("academy-{n:04}")), ..fixture.event() })
        .collect();
    println!("\n{ACADEMIES} academies round robin, {}", fixture.event);
    for warm_instances in [RuntimeConfig::default().warm_instances, 64] {
        let runtime = Runtime::new(RuntimeConfig { warm_instances, ..RuntimeConfig::default() }).expect("runtime");
        let plugin = runtime.load_serializer("marketing", bundled::find("marketing").unwrap().wasm).unwrap();
        for threads in [1, 2] {
            let mean = |events: &[wasmhook::runtime::Event]| {
                let calls = ACADEMIES * 4;
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for t in 0..threads {
                        let (runtime, plugin) = (&runtime, &plugin);
                        scope.spawn(move || {
                            for event in events.iter().cycle().skip(t).step_by(threads).take(calls / threads) {
                                black_box(runtime.serialize(plugin, event).result.expect("serializes"));
                            }
                        });
                    }
                });
                started.elapsed() * threads as u32 / calls as u32
            };
            let one = mean(&events[..1]);
            let many = mean(&events);
            println!(
                "{warm_instances:>5} warm, {threads} thread(s): one academy {:>6.1} µs/call, {ACADEMIES} academies {:>6.1} µs/call ({:.1}x)",
                micros(one),
                micros(many),
                many.as_secs_f64() / one.as_secs_f64()
            );
        }
    }
}

fn start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let load_all = || {
        let config = RuntimeConfig { cache_dir: Some(dir.path().to_owned()), ..RuntimeConfig::default() };
        let runtime = Runtime::new(config).expect("runtime");
        let started = Instant::now();
        for plugin in BUNDLED {
            match plugin.world {
                World::Serializer => drop(runtime.load_serializer(plugin.name, plugin.wasm).unwrap()),
                World::HookTransformer => drop(runtime.load_transformer(plugin.name, plugin.wasm).unwrap()),
            }
        }
        started.elapsed()
    };
    let cold = load_all();
    let warm = load_all();
    let bytes: usize = BUNDLED.iter().map(|p| p.wasm.len()).sum();
    println!("\nstart-up, all {} bundled plugins ({} KiB of components)", BUNDLED.len(), bytes >> 10);
    println!("cold (compile + cache): {:>8.1} ms", ms(cold));
    println!("warm (cached artifacts): {:>7.1} ms", ms(warm));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let fixtures = fixtures();
    serializers(&fixtures);
    many_academies(&fixtures);
    start_up();
}
