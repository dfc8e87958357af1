//! Parity of the Rust runtime with the Python reference pipeline (transformers processor
//! and tokenizer, then onnxruntime) on the committed tiny CLIP, SigLIP and ALIGN models.

mod common;

use common::*;
use edgeclip::embedding::cosine;
use edgeclip::imageio::load_rgb;
use edgeclip::model::tokenize::Tokens;
use edgeclip::model::{EncoderOptions, ModelDir};
use edgeclip::zeroshot::{build_cache, templates};

/// Ids the Rust tokenizer must produce for a golden text. SigLIP's slow reference
/// tokenizer treats text after a literal special token (`"x </s> y"`) in a way no
/// `tokenizer.json` can express; such goldens carry `tokenizer_json_input_ids` and a note.
fn expected_ids(t: &serde_json::Value) -> (Vec<i64>, bool) {
    match t.get("tokenizer_json_input_ids") {
        Some(ids) => (ints(ids), true),
        None => (ints(&t["input_ids"]), false),
    }
}

#[test]
fn token_ids_match_the_reference_tokenizer() {
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let tok = dir.tokenizer().unwrap();
        let g = goldens(name);
        let texts = g["texts"].as_array().unwrap();
        assert!(
            texts.len() >= 50,
            "{name}: only {} golden texts",
            texts.len()
        );
        let mut failures = Vec::new();
        let mut documented = 0;
        for t in texts {
            let text = t["text"].as_str().unwrap();
            let got = tok.encode(text).unwrap();
            let (want, is_documented) = expected_ids(t);
            documented += is_documented as usize;
            if got.ids != want {
                failures.push(format!("{text:?}\n  rust {:?}\n  ref  {want:?}", got.ids));
            }
            if !is_documented {
                if let Some(mask) = t.get("attention_mask").filter(|m| !m.is_null()) {
                    assert_eq!(got.attention_mask, ints(mask), "{name}: mask of {text:?}");
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{name}: {} texts differ:\n{}",
            failures.len(),
            failures.join("\n")
        );
        // Only the one literal-special-token text may deviate from the reference.
        assert!(
            documented <= 1,
            "{name}: {documented} documented deviations"
        );
    }
}

#[test]
fn decoded_pixels_are_identical_to_pil() {
    for item in goldens("clip-tiny")["images"].as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        let stem = file.split('.').next().unwrap();
        let path = fixtures()
            .join("goldens/decoded")
            .join(format!("rgb_{stem}.npy.gz"));
        let (shape, reference) = read_npy_f32(&path);
        let img = load_rgb(&image(file)).unwrap();
        assert_eq!(
            shape,
            vec![img.height() as usize, img.width() as usize, 3],
            "{file}"
        );
        let same = img
            .as_raw()
            .iter()
            .zip(&reference)
            .all(|(a, b)| *a as f32 == *b);
        assert!(same, "{file}: decoded RGB differs from PIL's load_image");
    }
}

#[test]
fn pixel_tensors_are_within_one_level_of_the_reference() {
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let spec = dir.manifest().image.preprocess.clone();
        let pre = edgeclip::model::preprocess::Preprocessor::new(&spec);
        let g = goldens(name);
        let images = g["images"].as_array().unwrap();
        assert!(
            images.len() >= 4,
            "{name}: only {} golden images",
            images.len()
        );
        for item in images {
            let file = item["file"].as_str().unwrap();
            let (shape, reference) =
                read_npy_f32(&golden_file(name, item["pixels"].as_str().unwrap()));
            let got = pre.tensor(&load_rgb(&image(file)).unwrap()).unwrap();
            assert_eq!(
                shape.iter().product::<usize>(),
                got.len(),
                "{name} {file}: shape {shape:?}"
            );
            let plane = got.len() / 3;
            // Undo the division by std: differences on the rescaled [0, 1] pixel scale,
            // where 1/255 is one 8-bit level of the resized image.
            let worst = got
                .iter()
                .zip(&reference)
                .enumerate()
                .map(|(i, (a, b))| (a - b).abs() * spec.std[i / plane])
                .fold(0f32, f32::max);
            assert!(
                worst <= 1.0 / 255.0 + 1e-6,
                "{name} {file}: max difference {worst} > 1/255 on the [0,1] scale"
            );
        }
    }
}

#[test]
fn image_embeddings_match_onnxruntime() {
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let enc = dir.image_encoder(EncoderOptions::default()).unwrap();
        for item in goldens(name)["images"].as_array().unwrap() {
            let file = item["file"].as_str().unwrap();
            let reference = floats(&item["embedding"]);
            // End to end from the file, so preprocessing differences would show here too.
            let got = enc.embed_image(&load_rgb(&image(file)).unwrap()).unwrap();
            let c = cosine(&got, &reference);
            assert!(c >= 0.99999, "{name} {file}: cosine {c}");
            // And from the reference tensor, isolating the encoder itself.
            let (_, pixels) = read_npy_f32(&golden_file(name, item["pixels"].as_str().unwrap()));
            let got = enc.embed_tensors(&pixels).unwrap().remove(0);
            let c = cosine(&got, &reference);
            assert!(c >= 0.99999, "{name} {file} (reference pixels): cosine {c}");
        }
    }
}

#[test]
fn text_embeddings_match_onnxruntime() {
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let enc = dir.text_encoder(EncoderOptions::default()).unwrap();
        let g = goldens(name);
        let golden_texts = g["texts"].as_array().unwrap();
        // The encoder alone, fed the reference ids.
        let tokens: Vec<Tokens> = golden_texts
            .iter()
            .map(|t| {
                let ids = ints(&t["input_ids"]);
                let attention_mask = match t.get("attention_mask").filter(|m| !m.is_null()) {
                    Some(m) => ints(m),
                    None => ids.iter().map(|_| 1).collect(),
                };
                Tokens {
                    type_ids: vec![0; ids.len()],
                    ids,
                    attention_mask,
                }
            })
            .collect();
        for (t, e) in golden_texts.iter().zip(enc.embed_tokens(&tokens).unwrap()) {
            let c = cosine(&e, &floats(&t["embedding"]));
            assert!(
                c >= 0.99999,
                "{name} {:?} (reference ids): cosine {c}",
                t["text"]
            );
        }
        // End to end from the strings, where the tokenizer reproduces the reference.
        let texts: Vec<&str> = golden_texts
            .iter()
            .map(|t| t["text"].as_str().unwrap())
            .collect();
        for ((t, text), e) in golden_texts
            .iter()
            .zip(&texts)
            .zip(enc.embed_texts(&texts).unwrap())
        {
            if expected_ids(t).1 {
                continue;
            }
            let c = cosine(&e, &floats(&t["embedding"]));
            assert!(c >= 0.99999, "{name} {text:?}: cosine {c}");
        }
    }
}

#[test]
fn batched_encoders_agree_with_batch_one() {
    let dir = ModelDir::open(model("clip-tiny")).unwrap();
    let one = dir.text_encoder(EncoderOptions::default()).unwrap();
    let four = dir
        .text_encoder(EncoderOptions {
            batch: 4,
            ..EncoderOptions::default()
        })
        .unwrap();
    let texts = ["a", "b c", "a photo of a dog.", "x", "yz", "the last one"];
    for (a, b) in one
        .embed_texts(&texts)
        .unwrap()
        .iter()
        .zip(four.embed_texts(&texts).unwrap())
    {
        assert!(cosine(a, &b) > 0.99999);
    }
}

#[test]
fn threaded_encoders_agree_with_one_thread() {
    let img = image::open(image("landscape.jpg")).unwrap().to_rgb8();
    let texts = ["a photo of a dog.", "a red stop sign in the rain"];
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let threaded = EncoderOptions {
            threads: 3,
            ..EncoderOptions::default()
        };
        let (text1, text3) = (
            dir.text_encoder(EncoderOptions::default()).unwrap(),
            dir.text_encoder(threaded).unwrap(),
        );
        let (image1, image3) = (
            dir.image_encoder(EncoderOptions::default()).unwrap(),
            dir.image_encoder(threaded).unwrap(),
        );
        // Thread every product and elementwise op, however small, so the tiny fixtures
        // take the pool's paths (loading a threaded encoder sets edgeclip's own gates).
        tract_linalg::multithread::set_threading_panel_threshold(0);
        tract_linalg::multithread::set_threading_element_threshold(0);
        let pairs = [
            (
                text1.embed_texts(&texts).unwrap(),
                text3.embed_texts(&texts).unwrap(),
            ),
            (
                vec![image1.embed_image(&img).unwrap()],
                vec![image3.embed_image(&img).unwrap()],
            ),
        ];
        for (a, b) in pairs {
            for (x, y) in a.iter().zip(&b) {
                let worst = x
                    .iter()
                    .zip(y)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0f32, f32::max);
                assert!(worst <= 1e-6, "{name}: threaded output differs by {worst}");
            }
        }
    }
}

#[test]
fn zero_shot_probabilities_match_the_reference_head() {
    for name in MODELS {
        let dir = ModelDir::open(model(name)).unwrap();
        let g = goldens(name);
        let zs = &g["zeroshot"];
        let labels: Vec<String> = zs["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        let tpl: Vec<String> = zs["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        for t in &tpl {
            assert!(templates::parse(t).is_ok());
        }
        let text = dir.text_encoder(EncoderOptions::default()).unwrap();
        let cache = build_cache(&dir, &text, labels, tpl).unwrap();
        let img = dir.image_encoder(EncoderOptions::default()).unwrap();
        for (item, probs) in g["images"]
            .as_array()
            .unwrap()
            .iter()
            .zip(zs["image_probs"].as_array().unwrap())
        {
            let emb = img
                .embed_image(&load_rgb(&image(item["file"].as_str().unwrap())).unwrap())
                .unwrap();
            let scores = cache.head.score(&emb, &cache.embeddings);
            for (a, b) in scores.probs.iter().zip(floats(probs)) {
                assert!(
                    (a - b).abs() < 1e-3,
                    "{name} {}: prob {a} vs reference {b}",
                    item["file"]
                );
            }
        }
    }
}
