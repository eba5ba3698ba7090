//! Attribute macros of `wasmhook-sdk`. They keep the annotated function as it
//! is (so it can be unit-tested natively) and, on wasm32 only, generate the
//! component bindings for the matching world of the WIT contract and export
//! the function through them.

use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemFn, parse_macro_input};

/// The contract shipped inside this crate (`wit/` links to the workspace's).
const WIT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/wit");

/// See `wasmhook_sdk::serializer`.
#[proc_macro_attribute]
pub fn serializer(attr: TokenStream, item: TokenStream) -> TokenStream {
    export(attr, item, World::Serializer)
}

/// See `wasmhook_sdk::transformer`.
#[proc_macro_attribute]
pub fn transformer(attr: TokenStream, item: TokenStream) -> TokenStream {
    export(attr, item, World::HookTransformer)
}

enum World {
    Serializer,
    HookTransformer,
}

fn export(attr: TokenStream, item: TokenStream, world: World) -> TokenStream {
    if !attr.is_empty() {
        let error = syn::Error::new(proc_macro2::Span::call_site(), "this attribute takes no arguments");
        return error.to_compile_error().into();
    }
    let function = parse_macro_input!(item as ItemFn);
    let name = &function.sig.ident;
    let module = format_ident!("__wasmhook_export_{}", name);
    let (world_name, guest_impl) = match world {
        World::Serializer => (
            "wasmhook:plugin/serializer",
            quote! {
                fn serialize(
                    event: ::wasmhook_sdk::__private::types::Event,
                ) -> ::core::result::Result<::wasmhook_sdk::__private::types::Decision, ::std::string::String> {
                    ::wasmhook_sdk::__private::serialize(super::#name, event)
                }
            },
        ),
        World::HookTransformer => (
            "wasmhook:plugin/hook-transformer",
            quote! {
                fn transform(
                    event_name: ::std::string::String,
                    req: ::wasmhook_sdk::__private::types::Request,
                ) -> ::core::result::Result<
                    ::core::option::Option<::wasmhook_sdk::__private::types::Request>,
                    ::std::string::String,
                > {
                    ::wasmhook_sdk::__private::transform(super::#name, event_name, req)
                }
            },
        ),
    };
    quote! {
        #function

        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        mod #module {
            ::wasmhook_sdk::__private::wit_bindgen::generate!({
                path: #WIT_DIR,
                world: #world_name,
                runtime_path: "::wasmhook_sdk::__private::wit_bindgen::rt",
                with: {
                    "wasmhook:plugin/types@0.1.0": ::wasmhook_sdk::__private::types,
                    "wasmhook:plugin/host@0.1.0": ::wasmhook_sdk::__private::host,
                },
            });

            struct Plugin;

            impl Guest for Plugin {
                #guest_impl
            }

            export!(Plugin);
        }
    }
    .into()
}
