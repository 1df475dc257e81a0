"""Knowledge-base search benchmark ("Self-service first"): does the right article come first for a
customer's question, how often does the bot dare answer, how often is it then wrong, how fast.

Index: the demo's articles (src/trustdesk/demo/kb/articles.yaml) in English and Spanish, as the
app indexes them (``knowledge.service.plain_text``), with and without example questions.
Questions: the Bitext customer-support utterances, whose ``intent`` names the article (the
article's ``intent`` field). ``knowledge.evaluation.bitext_split`` holds out 2,000 of them (fixed
seed): they are the test set and nothing else. The rest, shuffled (``--seed``), gives in turn
3,000 questions that calibrate the confidence and choose the threshold (wrong_answer_rate <= 0.05
on them), 3,000 for ``--study`` (fusion weights), and the example questions (``--examples`` per
article, English only). The held-out set is never used to build or choose anything.

Targets (from the issue): top-1 >= 0.90; at the chosen threshold wrong_answer_rate <= 0.05 with
answer_rate >= 0.80; p50 latency reported (and kept well under 50 ms on 2 cores). Spanish has no
Bitext utterances: 54 questions written for this benchmark give an indicative figure.

Run: ``.venv/bin/python bench/kb.py [--examples 30] [--study] [--json]``.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trustdesk.demo.bitext import find_data_dir
from trustdesk.knowledge.evaluation import (
    WRONG_ANSWER_TARGET,
    answer_all,
    bitext_plan,
    bitext_split,
    lowest_threshold,
    metrics,
)
from trustdesk.knowledge.search import UNCALIBRATED_THRESHOLD, Document, Example, Index
from trustdesk.knowledge.service import plain_text  # what the app indexes (knowledge/index.py)
from trustdesk.text import embeddings

REPO = Path(__file__).resolve().parents[1]
ARTICLES = REPO / "src" / "trustdesk" / "demo" / "kb" / "articles.yaml"
CALIBRATION = 3000
STUDY = 3000
EXAMPLES = 30
STRICTER_TARGETS = (0.02, 0.01)  # other operating points: threshold chosen the same way
# Spanish has no Bitext utterances: 54 questions written for this benchmark (two per article, in
# a customer"s words, before looking at what the search answers) give an indicative figure only.
SPANISH = (
    ("quiero abrir una cuenta nueva", "create-an-account"),
    ("como me registro? no tengo cuenta todavia", "create-an-account"),
    ("quiero borrar mi cuenta para siempre", "delete-your-account"),
    ("como cierro mi perfil de Bramble", "delete-your-account"),
    ("necesito actualizar mi nombre y mi teléfono en el perfil", "edit-account-details"),
    ("como modifico los datos de mi cuenta", "edit-account-details"),
    ("he olvidado mi contraseña", "reset-your-password"),
    ("me han hackeado la cuenta y no puedo entrar", "reset-your-password"),
    ("no consigo registrarme, me da error el formulario", "sign-up-problems"),
    ("no me llega el código para crear la cuenta", "sign-up-problems"),
    ("tengo dos cuentas, como paso de una a otra", "switch-accounts"),
    ("quiero usar mi otra cuenta", "switch-accounts"),
    ("me cobran algo si cancelo el pedido?", "cancellation-fees"),
    ("hay penalización por anular una compra", "cancellation-fees"),
    ("cual es el email de atención al cliente", "contact-customer-service"),
    ("como puedo contactar con soporte", "contact-customer-service"),
    ("quiero hablar con un humano, no con un bot", "talk-to-a-person"),
    ("pásame con un agente por favor", "talk-to-a-person"),
    ("que tipos de envío tenéis", "delivery-options"),
    ("puedo recoger el paquete en un punto de recogida?", "delivery-options"),
    ("cuantos días tarda el envío", "delivery-times"),
    ("cuando me llegará lo que he comprado", "delivery-times"),
    ("quiero poner una queja sobre el servicio", "make-a-complaint"),
    ("estoy muy descontento y quiero reclamar", "make-a-complaint"),
    ("quiero dejar mi opinión sobre un producto", "leave-a-review"),
    ("como valoro al vendedor", "leave-a-review"),
    ("donde veo mis facturas anteriores", "find-your-invoices"),
    ("quiero consultar las facturas de mis compras", "find-your-invoices"),
    ("necesito una factura de mi compra", "get-an-invoice"),
    ("como descargo la factura con mis datos fiscales", "get-an-invoice"),
    ("quiero dejar de recibir el boletín", "newsletter-subscription"),
    ("como me apunto a la newsletter", "newsletter-subscription"),
    ("quiero cancelar mi pedido", "cancel-an-order"),
    ("como anulo una compra que acabo de hacer", "cancel-an-order"),
    ("puedo cambiar la talla de un pedido ya hecho?", "change-an-order"),
    ("quiero modificar mi compra", "change-an-order"),
    ("como compro algo en Bramble", "place-an-order"),
    ("quiero hacer un pedido, como funciona", "place-an-order"),
    ("donde está mi paquete", "track-your-order"),
    ("como veo el seguimiento de mi pedido", "track-your-order"),
    ("puedo pagar con PayPal?", "payment-methods"),
    ("que formas de pago aceptáis", "payment-methods"),
    ("me han cobrado dos veces", "payment-problems"),
    ("el pago con tarjeta me da error", "payment-problems"),
    ("cual es vuestra política de reembolsos", "refund-policy"),
    ("cuantos días tengo para devolver algo", "refund-policy"),
    ("quiero que me devuelvan el dinero", "request-a-refund"),
    ("como solicito un reembolso de un artículo roto", "request-a-refund"),
    ("todavía no he recibido mi reembolso", "track-your-refund"),
    ("como va mi devolución de dinero", "track-your-refund"),
    ("me equivoqué de dirección en el pedido, como la cambio", "change-delivery-address"),
    ("quiero que me envíen el pedido a otra dirección", "change-delivery-address"),
    ("como añado una dirección nueva a mi cuenta", "add-a-shipping-address"),
    ("quiero guardar la dirección de mi oficina", "add-a-shipping-address"),
)
TARGET_TOP1, TARGET_ANSWER_RATE, TARGET_P50_MS = 0.90, 0.80, 50.0


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_documents(path: Path) -> tuple[list[Document], dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    documents, key_of_intent = [], {}
    for article in data["articles"]:
        key_of_intent[article["intent"]] = article["key"]
        for locale, text in article["translations"].items():
            documents.append(Document(article["key"], locale, text["title"], plain_text(text["body"])))
    return documents, key_of_intent


def run(index: Index, calibration: list[tuple[str, str]], test: list[tuple[str, str]]) -> dict[str, Any]:
    started = time.perf_counter()
    index.calibrate(calibration, locale="en")
    calibration_answers = answer_all(index, calibration, locale="en")
    threshold = lowest_threshold(calibration_answers, target=WRONG_ANSWER_TARGET)
    calibrated_seconds = time.perf_counter() - started
    for text, _ in test[:20]:  # warm-up, not counted
        index.search(text, locale="en")
    answers = answer_all(index, test, locale="en")
    ms = sorted(a.milliseconds for a in answers)
    figures = metrics(answers, threshold=threshold)
    # Spanish has neither examples nor embeddings: its confidence keeps the defaults.
    spanish = metrics(answer_all(index, list(SPANISH), locale="es"), threshold=UNCALIBRATED_THRESHOLD)
    stricter = []
    for target in STRICTER_TARGETS:
        chosen = lowest_threshold(calibration_answers, target=target)
        held_out = metrics(answers, threshold=chosen)
        stricter.append({"target": target, "threshold": round(chosen, 4), "answer_rate": held_out["answer_rate"],
                         "wrong_answer_rate": held_out["wrong_answer_rate"]})
    return figures | {
        "stricter": stricter,
        "spanish": spanish,
        "p95_ms": ms[int(0.95 * (len(ms) - 1))],
        "calibration": metrics(calibration_answers, threshold=threshold),
        "confidence": vars(index.confidence("en")),
        "calibrate_seconds": round(calibrated_seconds, 1),
    }


SIGNALS = ("bm25", "char", "dense", "example_char", "example_dense")
GRID = (0.0, 0.25, 0.5, 1.0, 2.0)


def study(index: Index, sample: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Top-1 on a sample of the NON-held-out rest for every combination of weights in GRID."""
    keys = index.keys("en")
    truth = np.array([keys.index(key) for _, key in sample])
    stacked = []
    for text, _ in sample:
        signals = index.signals(text, locale="en")
        assert signals is not None
        stacked.append(np.stack([getattr(signals, name) if getattr(signals, name) is not None
                                 else np.zeros(len(keys)) for name in SIGNALS], axis=1))
    scores = np.stack(stacked)  # questions x articles x signals
    present = [i for i, name in enumerate(SIGNALS) if scores[:, :, i].any()]
    out = []
    for combination in itertools.product(GRID, repeat=len(present)):
        if not any(combination):
            continue
        weights = np.zeros(len(SIGNALS))
        weights[present] = combination
        top1 = float(((scores @ weights).argmax(axis=1) == truth).mean())
        out.append({name: float(w) for name, w in zip(SIGNALS, weights, strict=True)} | {"top1": round(top1, 4)})
    return sorted(out, key=lambda r: -r["top1"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--data", type=Path, default=None, help="folder with bitext-customer-support/")
    parser.add_argument("--seed", type=int, default=7, help="of the calibration and study samples")
    parser.add_argument("--examples", type=int, default=EXAMPLES, help="example questions per article")
    parser.add_argument("--study", action="store_true", help="compare fusion weights on a training sample")
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON on stdout")
    parser.add_argument("--export-heldout", type=Path, default=None, metavar="CSV",
                        help="only write the held-out questions (text,article_key) for `trustdesk kb evaluate`")
    options = parser.parse_args(argv)

    documents, key_of_intent = load_documents(options.articles)
    data = options.data or find_data_dir()
    plan = bitext_plan(data, key_of_intent, seed=options.seed, calibration=CALIBRATION, study=STUDY,
                       per_article=options.examples)
    test, calibration, study_sample = plan.test, plan.calibration, plan.study
    examples = [Example(key, "en", text) for text, key in plan.examples]  # the demo loads the same ones
    held, rest = bitext_split(data)
    missing = sorted({intent for _, intent in held + rest} - set(key_of_intent))
    if options.export_heldout:
        with options.export_heldout.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "article_key"])
            writer.writerows(test)
        print(f"wrote the {len(test)} held-out questions to {options.export_heldout}", file=sys.stderr)
        return 0

    runs: dict[str, Any] = {}
    studies: dict[str, Any] = {}
    for use, with_examples in itertools.product((False, True), (False, True)):
        if use and not embeddings.available():
            print("  embeddings extra not installed: skipping those runs", file=sys.stderr)
            continue
        name = ("bm25+char+embeddings" if use else "bm25+char") + (f"+{options.examples}ex" if with_examples else "")
        started = time.perf_counter()
        index = Index.build(documents, examples=examples if with_examples else (),
                            embedder=embeddings.embedder() if use else None)
        build_seconds = time.perf_counter() - started
        if options.study:
            studies[name] = study(index, study_sample)[:10]
        runs[name] = run(index, calibration, test) | {"build_seconds": round(build_seconds, 2)}

    report: dict[str, Any] = {
        "commit": commit(), "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "articles": len({d.key for d in documents}), "documents": len(documents),
        "locales": sorted({d.locale for d in documents}), "intents_without_article": missing,
        "test": len(test), "calibration": len(calibration), "examples": len(examples), "runs": runs,
        "study": studies,
    }
    lines = [f"KB search on Bitext held-out utterances  commit {report['commit']}  {report['machine']}",
             f"{report['articles']} articles, {report['documents']} documents ({', '.join(report['locales'])}); "
             f"test {len(test)} held-out; from the rest: calibration {len(calibration)}, "
             f"{len(examples)} example questions ({options.examples} per article)"
             + (f"; intents without an article: {', '.join(missing)}" if missing else ""),
             f"{'signals':<26} {'top1':>6} {'top3':>6} {'thresh':>7} {'answer':>7} {'wrong':>7} "
             f"{'p50 ms':>7} {'p95 ms':>7}  (calibration: answer / wrong)"]
    for name, r in runs.items():
        c = r["calibration"]
        lines.append(f"{name:<26} {r['top1']:>6.4f} {r['top3']:>6.4f} {r['threshold']:>7.4f} {r['answer_rate']:>7.4f} "
                     f"{r['wrong_answer_rate']:>7.4f} {r['p50_ms']:>7.2f} {r['p95_ms']:>7.2f}  "
                     f"({c['answer_rate']:.4f} / {c['wrong_answer_rate']:.4f})")
        met = (r["top1"] >= TARGET_TOP1 and r["wrong_answer_rate"] <= WRONG_ANSWER_TARGET
               and r["answer_rate"] >= TARGET_ANSWER_RATE and r["p50_ms"] <= TARGET_P50_MS)
        lines.append(f"{'':<26} " + "; ".join(
            f"wrong <= {p['target']} on calibration: threshold {p['threshold']:.4f}, held-out answer "
            f"{p['answer_rate']:.4f} wrong {p['wrong_answer_rate']:.4f}" for p in r["stricter"]))
        lines.append(f"{'':<26} targets top1 >= {TARGET_TOP1}, wrong <= {WRONG_ANSWER_TARGET} at answer >= "
                     f"{TARGET_ANSWER_RATE}, p50 <= {TARGET_P50_MS} ms: {'met' if met else 'NOT met'}")
    if runs:
        e = next(iter(runs.values()))["spanish"]
        lines.append(f"{'spanish (54 written)':<26} {e['top1']:>6.4f} {e['top3']:>6.4f} {e['threshold']:>7.4f} "
                     f"{e['answer_rate']:>7.4f} {e['wrong_answer_rate']:>7.4f} {e['p50_ms']:>7.2f}  "
                     "(every run: no examples or embeddings in Spanish; default confidence)")
    for name, rows in studies.items():
        lines.append(f"study ({name}), top-1 on {len(study_sample)} training utterances:")
        lines += ["  " + "  ".join(f"{name} {r[name]:<4}" for name in SIGNALS) + f"  {r['top1']:.4f}" for r in rows]
    lines.append(f"reproduce: .venv/bin/python bench/kb.py --examples {options.examples}"
                 f"{' --study' if options.study else ''}")
    print("\n".join(lines), file=sys.stderr if options.as_json else sys.stdout)
    if options.as_json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
