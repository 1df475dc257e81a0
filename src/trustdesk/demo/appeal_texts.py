"""The demo's appeals wording: enforcement policies and detection sources, the decision letters, each
market's out-of-court settlement text, and the short reasons a reviewer records (``demo/appeals.py``
writes them)."""

from __future__ import annotations

from dataclasses import dataclass

from trustdesk.appeals.models import Outcome, SourceKind

Texts = dict[str, str]


@dataclass(frozen=True)
class PolicySpec:
    key: str
    name: str
    description: str
    owner: str  # staff key (e-mail local part)
    section: str  # the Seller Terms section the statement of reasons cites
    category: str  # the Transparency Database's category
    keyword: str | None  # its category_specification, if any
    keyword_other: str = ""  # with KEYWORD_OTHER: the words for it
    illegal_too: bool = False  # incompatible with the terms and also illegal (incompatible_content_illegal)
    explanation: str = ""  # why the content is incompatible, for the statement


POLICIES: tuple[PolicySpec, ...] = (
    PolicySpec("counterfeit", "Counterfeit goods",
               "Listings that copy a brand's trademarks, logos or designs without the owner's permission.",
               "lead", "Bramble Seller Terms 4.2 (counterfeit and replica goods)",
               "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", "KEYWORD_TRADEMARK_INFRINGEMENT",
               illegal_too=True,
               explanation="The item is offered as a branded product but is not made or authorised by the brand."),
    PolicySpec("prohibited-items", "Prohibited and restricted items",
               "Items that may not be sold on Bramble at all (weapons, drugs, recalled goods) or only with a "
               "licence.", "lead", "Bramble Seller Terms 5.1 (prohibited and restricted items)",
               "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", "KEYWORD_PROHIBITED_PRODUCTS", illegal_too=True,
               explanation="The item is on the list of goods that may not be sold on the marketplace."),
    PolicySpec("misleading-listing", "Misleading listings",
               "Listings whose title, photos or description misstate what the buyer gets (condition, size, "
               "origin, certifications).", "ethan.brooks", "Bramble Seller Terms 4.5 (accurate listings)",
               "STATEMENT_CATEGORY_CONSUMER_INFORMATION", "KEYWORD_MISLEADING_INFO_GOODS_SERVICES",
               explanation="The listing describes the item in a way that does not match what is shipped."),
    PolicySpec("off-platform-payment", "Off-platform payment",
               "Asking buyers to pay outside Bramble's checkout (bank transfer, payment links, gift cards).",
               "oncall", "Bramble Seller Terms 7.3 (payments through Bramble only)",
               "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "KEYWORD_OTHER",
               keyword_other="Requests to pay outside the platform's checkout",
               explanation="The account asked buyers to pay outside the platform's checkout."),
    PolicySpec("chargeback-risk", "Chargeback risk",
               "Payouts held while orders with an unusual chargeback or fraud pattern are investigated.",
               "nadia.hassan", "Bramble Seller Terms 8.4 (payout holds)",
               "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "KEYWORD_OTHER",
               keyword_other="Orders under a chargeback and fraud investigation",
               explanation="Orders behind the payout show a chargeback pattern that is being investigated."),
    PolicySpec("undisclosed-promotion", "Undisclosed paid promotion",
               "Creator content that promotes a product for payment or free goods without saying so.",
               "marta.vidal", "Bramble Creator Guidelines 3.1 (disclose paid promotion)",
               "STATEMENT_CATEGORY_CONSUMER_INFORMATION", "KEYWORD_HIDDEN_ADVERTISEMENT",
               explanation="The video promotes products for payment without the required disclosure."),
    PolicySpec("review-manipulation", "Review manipulation",
               "Buying, swapping or writing reviews of one's own shop, or pressuring buyers for ratings.",
               "ethan.brooks", "Bramble Seller Terms 6.2 (honest reviews)",
               "STATEMENT_CATEGORY_CONSUMER_INFORMATION", "KEYWORD_INAUTHENTIC_USER_REVIEWS",
               explanation="The shop's ratings were inflated with reviews that do not come from real buyers."),
)
POLICY_BY_KEY = {p.key: p for p in POLICIES}


@dataclass(frozen=True)
class SourceSpec:
    key: str
    kind: SourceKind
    name: str
    owner: str
    # How often an appeal finds this source's decisions wrong (0..1): the demo picks a decision's source
    # after its outcome is known, weighted by this, so "overturn rate by source" tells a story.
    overturn_propensity: float


SOURCES: tuple[SourceSpec, ...] = (
    SourceSpec("counterfeit-image-model", SourceKind.MODEL, "Counterfeit image model v3", "oncall", 0.55),
    SourceSpec("listing-keyword-rules", SourceKind.RULE, "Listing keyword rules", "ethan.brooks", 0.6),
    SourceSpec("off-platform-message-rule", SourceKind.RULE, "Off-platform payment message rule", "ethan.brooks",
               0.45),
    SourceSpec("chargeback-risk-model", SourceKind.MODEL, "Chargeback risk model v2", "nadia.hassan", 0.4),
    SourceSpec("promo-disclosure-model", SourceKind.MODEL, "Paid promotion detector v1", "oncall", 0.5),
    SourceSpec("known-counterfeit-hashes", SourceKind.HASH_MATCH, "Known-counterfeit image hashes", "lead", 0.05),
    SourceSpec("trust-safety-moderators", SourceKind.HUMAN, "Trust & Safety moderators", "lead", 0.15),
    SourceSpec("buyer-notices", SourceKind.USER_NOTICE, "Buyer and rights-holder notices (DSA Art. 16)",
               "ethan.brooks", 0.3),
    SourceSpec("brand-trusted-flaggers", SourceKind.TRUSTED_FLAGGER, "Trusted flaggers (brand protection bodies)",
               "lead", 0.07),
)
SOURCE_BY_KEY = {s.key: s for s in SOURCES}

# By what the decision restricted: the policies it applies (weight) and, per policy, the sources that
# find such cases (weight among them).
POLICIES_OF_ITEM: dict[str, tuple[tuple[str, float], ...]] = {
    "listing": (("counterfeit", 0.5), ("prohibited-items", 0.25), ("misleading-listing", 0.25)),
    "account": (("off-platform-payment", 0.65), ("review-manipulation", 0.35)),
    "payout": (("chargeback-risk", 1.0),),
    "content": (("undisclosed-promotion", 1.0),),
}
SOURCES_OF_POLICY: dict[str, tuple[tuple[str, float], ...]] = {
    "counterfeit": (("counterfeit-image-model", 0.35), ("known-counterfeit-hashes", 0.2),
                    ("brand-trusted-flaggers", 0.15), ("buyer-notices", 0.15), ("trust-safety-moderators", 0.15)),
    "prohibited-items": (("listing-keyword-rules", 0.45), ("trust-safety-moderators", 0.25), ("buyer-notices", 0.3)),
    "misleading-listing": (("listing-keyword-rules", 0.35), ("buyer-notices", 0.4),
                           ("trust-safety-moderators", 0.25)),
    "off-platform-payment": (("off-platform-message-rule", 0.5), ("trust-safety-moderators", 0.3),
                             ("buyer-notices", 0.2)),
    "review-manipulation": (("trust-safety-moderators", 0.6), ("buyer-notices", 0.4)),
    "chargeback-risk": (("chargeback-risk-model", 0.6), ("trust-safety-moderators", 0.4)),
    "undisclosed-promotion": (("promo-disclosure-model", 0.4), ("buyer-notices", 0.3),
                              ("trust-safety-moderators", 0.3)),
}
# Ayu Setiawan (Indonesian and English) is qualified for these only: Indonesia's readiness check shows
# the policies nobody who speaks Indonesian may decide yet.
AYU_POLICIES = ("counterfeit", "prohibited-items", "off-platform-payment", "chargeback-risk", "undisclosed-promotion")
MODERATORS = ("hiro.tanaka", "laura.becker")  # Trust & Safety Ops: they take the decisions people take

FACTS: dict[str, str] = {
    "model": "{source} scored the {thing} above the removal threshold; a moderator confirmed the match before "
             "acting.",
    "rule": "The {thing} matched {source} and was actioned automatically.",
    "hash_match": "An image of the {thing} matched {source}, a list of images confirmed as counterfeit.",
    "human": "A Trust & Safety moderator reviewed the {thing} during a proactive sweep.",
    "user_notice": "A notice about the {thing} was received and reviewed by a Trust & Safety moderator.",
    "trusted_flagger": "A trusted flagger reported the {thing}; a Trust & Safety moderator reviewed the notice.",
}
THING: dict[str, str] = {"listing": "listing", "account": "account's messages to buyers",
                         "payout": "orders behind the payout", "content": "video"}

# ---------------------------------------------------------------- letters

LETTERS: dict[Outcome, Texts] = {
    Outcome.UPHELD: {
        "en": "Hello,\n\nWe have finished reviewing your appeal {appeal_reference} about {item}.\n\n"
              "A member of our appeals team (a person, not an automated system, and not the person who took the "
              "first decision) looked again at decision {decision_reference} under our {policy} policy, together "
              "with everything you sent us. We are keeping the decision in place.\n\n"
              "Why: {reasons}\n\n"
              "What you can do next:\n"
              "- If you have information we have not seen yet, reply to this message and we will look again.\n"
              "- {out_of_court}\n"
              "- You can also take the matter to court.\n\n"
              "Decided on {decided_on}. Bramble Appeals",
        "es": "Hola:\n\nHemos terminado de revisar tu recurso {appeal_reference} sobre {item}.\n\n"
              "Una persona de nuestro equipo de recursos (no un sistema automático, y no quien tomó la primera "
              "decisión) ha examinado de nuevo la decisión {decision_reference} según nuestra política "
              "«{policy}», junto con todo lo que nos enviaste. Mantenemos la decisión.\n\n"
              "Motivo: {reasons}\n\n"
              "Qué puedes hacer ahora:\n"
              "- Si tienes información que aún no hemos visto, responde a este mensaje y la revisaremos.\n"
              "- {out_of_court}\n"
              "- También puedes acudir a los tribunales.\n\n"
              "Decidido el {decided_on}. Equipo de Recursos de Bramble",
    },
    Outcome.OVERTURNED: {
        "en": "Hello,\n\nGood news about your appeal {appeal_reference} about {item}: it has succeeded.\n\n"
              "A member of our appeals team (a person, not an automated system) reviewed decision "
              "{decision_reference} under our {policy} policy and found it was wrong, so we have reversed it in "
              "full. Any restriction it placed on you is being lifted; this usually takes effect within a few "
              "hours.\n\n"
              "Why: {reasons}\n\n"
              "If anything is still restricted tomorrow, reply to this message. {out_of_court}\n\n"
              "Decided on {decided_on}. We are sorry for the trouble. Bramble Appeals",
        "es": "Hola:\n\nBuenas noticias sobre tu recurso {appeal_reference} sobre {item}: lo hemos estimado.\n\n"
              "Una persona de nuestro equipo de recursos (no un sistema automático) ha revisado la decisión "
              "{decision_reference} según nuestra política «{policy}» y ha concluido que era errónea, así que la "
              "revocamos por completo. Estamos levantando cualquier restricción que te impusiera; suele hacerse "
              "efectivo en pocas horas.\n\n"
              "Motivo: {reasons}\n\n"
              "Si mañana sigue habiendo alguna restricción, responde a este mensaje. {out_of_court}\n\n"
              "Decidido el {decided_on}. Disculpa las molestias. Equipo de Recursos de Bramble",
    },
    Outcome.PARTIALLY_OVERTURNED: {
        "en": "Hello,\n\nWe have finished reviewing your appeal {appeal_reference} about {item}, and it has partly "
              "succeeded.\n\n"
              "A member of our appeals team (a person, not an automated system) reviewed decision "
              "{decision_reference} under our {policy} policy. We are lifting {lifted}. The rest of the decision "
              "stays in place.\n\n"
              "Why: {reasons}\n\n"
              "What you can do next:\n"
              "- If you have information we have not seen yet about the part that stays, reply to this message.\n"
              "- {out_of_court}\n"
              "- You can also take the matter to court.\n\n"
              "Decided on {decided_on}. Bramble Appeals",
        "es": "Hola:\n\nHemos terminado de revisar tu recurso {appeal_reference} sobre {item} y lo estimamos en "
              "parte.\n\n"
              "Una persona de nuestro equipo de recursos (no un sistema automático) ha revisado la decisión "
              "{decision_reference} según nuestra política «{policy}». Levantamos {lifted}. El resto de la "
              "decisión se mantiene.\n\n"
              "Motivo: {reasons}\n\n"
              "Qué puedes hacer ahora:\n"
              "- Si tienes información que aún no hemos visto sobre la parte que se mantiene, responde a este "
              "mensaje.\n"
              "- {out_of_court}\n"
              "- También puedes acudir a los tribunales.\n\n"
              "Decidido el {decided_on}. Equipo de Recursos de Bramble",
    },
}

# ---------------------------------------------------------------- out-of-court settlement, per market

ODS_BODIES = ("Appeals Centre Europe", "User Rights")  # certified under DSA Art. 21; a dispute names one
OUT_OF_COURT: dict[str, Texts] = {
    "ES": {
        "es": "Puedes llevar esta decisión ante un órgano certificado de resolución extrajudicial de litigios "
              "(artículo 21 del Reglamento de Servicios Digitales), como Appeals Centre Europe "
              "(www.appealscentre.eu) o User Rights (www.user-rights.org). Acudir a ellos no te impide ir a los "
              "tribunales, y Bramble participará de buena fe.",
        "en": "You can take this decision to a certified out-of-court dispute settlement body (Article 21 of the "
              "Digital Services Act), such as Appeals Centre Europe (www.appealscentre.eu) or User Rights "
              "(www.user-rights.org). Doing so does not stop you going to court, and Bramble will take part in "
              "good faith.",
    },
    "US": {
        "en": "You can also take this decision to independent arbitration under section 19 of the Bramble Seller "
              "Terms (administered by the American Arbitration Association), or to a small-claims court.",
        "es": "También puedes llevar esta decisión a un arbitraje independiente según la sección 19 de las "
              "Condiciones para Vendedores de Bramble (administrado por la American Arbitration Association), o a "
              "un tribunal de reclamaciones menores.",
    },
    "GB": {
        "en": "You can also ask an independent mediator to look at this decision under section 19 of the Bramble "
              "Seller Terms (the Centre for Effective Dispute Resolution, www.cedr.com), or make a claim in the "
              "county court.",
    },
    # Indonesia is half set up: English only; the Indonesian text is one of its readiness gaps.
    "ID": {
        "en": "You can also bring a complaint about this decision to a Consumer Dispute Settlement Body (BPSK) "
              "or to the district court.",
    },
}

# ---------------------------------------------------------------- the reviewer's recorded reasons

REASONS: dict[str, Texts] = {
    "upheld": {
        "en": "The evidence in the appeal does not change the finding: {ground}. The decision stands.",
        "es": "Las pruebas del recurso no cambian la conclusión: {ground}. La decisión se mantiene.",
        "id": "Bukti dalam banding tidak mengubah temuan: {ground}. Keputusan tetap berlaku.",
    },
    "unfounded": {
        "en": "The appeal repeats earlier appeals without any new fact or document, and {ground}. It is manifestly "
              "unfounded.",
        "es": "El recurso repite recursos anteriores sin ningún hecho ni documento nuevo, y {ground}. Es "
              "manifiestamente infundado.",
        "id": "Banding ini mengulang banding sebelumnya tanpa fakta atau dokumen baru, dan {ground}. Banding ini "
              "jelas tidak berdasar.",
    },
    "overturned": {
        "en": "The documents sent with the appeal show the decision was wrong, so it is reversed in full: {remedy}.",
        "es": "Los documentos enviados con el recurso muestran que la decisión era errónea, así que se revoca por "
              "completo: {remedy}.",
        "id": "Dokumen yang dikirim bersama banding menunjukkan keputusan itu keliru, jadi dibatalkan sepenuhnya: "
              "{remedy}.",
    },
    "partially_overturned": {
        "en": "The main finding stands, but the added restriction was more than the policy calls for on a first "
              "case, so that part is lifted.",
        "es": "La conclusión principal se mantiene, pero la restricción añadida iba más allá de lo que la política "
              "prevé para un primer caso, así que esa parte se levanta.",
        "id": "Temuan utama tetap berlaku, tetapi pembatasan tambahan melebihi ketentuan kebijakan untuk kasus "
              "pertama, jadi bagian itu dicabut.",
    },
}
QA_NOTES = {
    "agreed": "Same outcome on a blind second review; the reasons given to the appellant are clear.",
    "disagreed": "On the evidence in the case I would have reached a different outcome; sending to calibration.",
}
CALIBRATION_NOTES = {
    "second": ("Talked through in the weekly calibration: the policy's evidence standard for a first case was "
               "applied too strictly. The second reviewer's reading is the one to follow."),
    "first": ("Talked through in the weekly calibration: the documents did not prove the point the second review "
              "relied on. The first outcome was right; the second reviewer agreed."),
}
MISUSE_WARNING = ("The shop has filed {n} appeals in a short time that repeat the same claim without any new fact "
                  "or document, each found manifestly unfounded after review. Further unfounded appeals may lead "
                  "to a suspension of appeals (DSA Art. 23(2)).")
MISUSE_SUSPENSION = ("Despite the warning of {warned:%Y-%m-%d}, the shop filed {n} more manifestly unfounded appeals "
                     "repeating the same claim. Appeals from this account are suspended for {days} days; decisions "
                     "taken meanwhile can be appealed once the suspension ends, within their window.")
