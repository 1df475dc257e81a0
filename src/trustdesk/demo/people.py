"""The demo's customers: buyers, shops and creators per market, generated from a seed.

Every customer is a user (no password: they cannot sign in) with a party linked to it, as when
the marketplace's own login carries over to the help center. Party external ids start with
``demo-``, which is how the build recognises its own parties.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

from trustdesk.cases.models import PartyKind
from trustdesk.core.permissions import Role
from trustdesk.demo.catalog import MARKETS, MarketSpec

FIRST_NAMES = {
    "US": ("Emily", "Michael", "Sarah", "David", "Jessica", "Chris", "Ashley", "Brandon", "Megan", "Tyler", "Lauren",
           "Justin", "Rachel", "Kyle", "Amanda", "Jason", "Nicole", "Ryan", "Brittany", "Eric", "Samantha", "Derek",
           "Kayla", "Jamal", "Aaliyah", "Wei", "Mei", "Raj", "Anjali", "Luis", "Maria", "Carlos", "Sofia", "Jose",
           "Isabella", "Miguel", "Gabriela", "Diego", "Valentina"),
    "GB": ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Mia", "Charlie", "Grace", "Thomas",
           "Freya", "James", "Poppy", "William", "Ella", "Alfie", "Lily", "Archie", "Sophie", "Mohammed", "Aisha",
           "Callum", "Niamh", "Rhys", "Eilidh"),
    "ES": ("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Martín", "María", "Pablo", "Julia", "Daniel", "Paula",
           "Alejandro", "Valeria", "Álvaro", "Carla", "Adrián", "Noa", "Javier", "Elena", "Sergio", "Irene", "Iker",
           "Nerea", "Jordi", "Laia"),
    "ID": ("Putri", "Budi", "Siti", "Agus", "Dewi", "Rizky", "Ayu", "Andi", "Nur", "Fajar", "Intan", "Dimas",
           "Wulan", "Arief", "Ratna", "Bayu", "Indah", "Hendra", "Sari", "Yoga", "Melati", "Eko", "Lestari",
           "Gilang", "Anisa"),
}
LAST_NAMES = {
    "US": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
           "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee", "Thompson", "White", "Harris",
           "Clark", "Lewis", "Nguyen", "Patel", "Kim", "Chen", "Lopez", "Hernandez", "Walker", "Young"),
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans", "Thomas", "Roberts",
           "Walker", "Wright", "Robinson", "Thompson", "Hughes", "Edwards", "Green", "Hall", "Wood", "Clarke",
           "Khan", "Ali", "Murphy", "Campbell"),
    "ES": ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
           "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Navarro",
           "Torres", "Domínguez", "Vázquez", "Serra", "Puig"),
    "ID": ("Santoso", "Wijaya", "Saputra", "Pratama", "Lestari", "Hidayat", "Kusuma", "Setiawan", "Nugroho",
           "Rahayu", "Sari", "Utami", "Siregar", "Nasution", "Simanjuntak", "Gunawan", "Halim", "Susanto",
           "Permana", "Wibowo", "", "", ""),  # many Indonesians go by one name
}
SHOP_WORDS = {
    "en": (("Willow", "Harbor", "Maple", "Copper", "Juniper", "Oak", "Little", "Northside", "Golden", "Urban",
            "Wild", "Bright"),
           ("Home", "Threads", "Supply Co.", "Goods", "Studio", "Outfitters", "Kitchen", "Vintage", "Tech",
            "Crafts", "Market", "Apparel")),
    "es": (("Casa", "Taller", "Tienda", "Rincón", "Estudio", "Almacén", "Bazar", "Mercado"),
           ("del Sol", "Luna", "Verde", "Mediterráneo", "de Olivo", "Norte", "Artesano", "Bonito")),
    "id": (("Toko", "Rumah", "Warung", "Galeri", "Butik", "Pojok", "Dapur", "Griya"),
           ("Batik", "Makmur", "Sejahtera", "Nusantara", "Jaya", "Cantik", "Berkah", "Kreasi")),
}
CREATOR_HANDLES = ("makes", "styles", "cooks", "reviews", "finds", "home", "tech", "daily", "diy", "looks")
ITEMS = ("Leather crossbody bag", "Wireless earbuds", "Linen duvet cover", "Ceramic pour-over set",
         "Running shoes", "Vintage denim jacket", "Smartwatch strap", "Batik shirt", "Yoga mat", "Desk lamp",
         "Espresso grinder", "Silver hoop earrings", "Kids' rain boots", "Phone case")
VIDEO_TITLES = ("5 kitchen finds under $20", "Honest review: budget earbuds", "My capsule wardrobe",
                "Desk setup tour", "Skincare routine that works", "Unboxing the new smartwatch",
                "Three ways to style a linen shirt", "Testing viral gadgets")


@dataclass(frozen=True)
class CustomerSpec:
    """One demo customer: their user and their party (same market, one kind, one language)."""

    external_id: str
    market: str
    kind: PartyKind
    display_name: str
    first_name: str
    email: str
    language: str
    role: Role


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _pick_language(rng: random.Random, market: MarketSpec) -> str:
    languages, weights = zip(*market.customer_languages, strict=True)
    language: str = rng.choices(languages, weights)[0]
    return language


def _person(rng: random.Random, market: MarketSpec, language: str) -> tuple[str, str]:
    # English speakers in Spain are mostly expats; their names follow the US/UK lists.
    names_market = "GB" if market.code == "ES" and language == "en" else market.code
    if market.code == "US" and language == "es":
        first = rng.choice(("Luis", "Maria", "Carlos", "Sofia", "Jose", "Isabella", "Miguel", "Gabriela", "Ana"))
        last = rng.choice(("Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Ramirez"))
        return first, last
    first = rng.choice(FIRST_NAMES[names_market])
    last = rng.choice(LAST_NAMES[names_market])
    return first, last


def pool_sizes(case_count: int, market: MarketSpec) -> dict[PartyKind, int]:
    """Customers per kind in a market: buyers contact support once or twice in 90 days, shops and
    creators (fewer, busier) several times."""
    cases = case_count * market.share
    return {
        PartyKind.BUYER: max(12, round(cases * 0.73 * 0.62)),
        PartyKind.SELLER: max(6, round(cases * 0.16 * 0.25)),
        PartyKind.CREATOR: max(4, round(cases * 0.07 * 0.3)),
    }


def customers(seed: int, case_count: int) -> dict[tuple[str, PartyKind], list[CustomerSpec]]:
    """The customer pools, keyed by (market code, party kind); the same seed gives the same people."""
    pools: dict[tuple[str, PartyKind], list[CustomerSpec]] = {}
    for market in MARKETS:
        for kind, size in pool_sizes(case_count, market).items():
            rng = random.Random(f"{seed}/people/{market.code}/{kind.value}")
            pool = []
            for n in range(size):
                language = _pick_language(rng, market)
                first, last = _person(rng, market, language)
                external_id = f"demo-{market.code.lower()}-{kind.value}-{n:05d}"
                local = f"{_ascii(first)}.{_ascii(last)}" if last else _ascii(first)
                if kind is PartyKind.SELLER:
                    words = SHOP_WORDS[language if language in SHOP_WORDS else "en"]
                    display = f"{rng.choice(words[0])} {rng.choice(words[1])}"
                    role = Role.SELLER
                elif kind is PartyKind.CREATOR:
                    display = f"{first} {last} (@{_ascii(first)}{rng.choice(CREATOR_HANDLES)})".replace("  ", " ")
                    role = Role.CREATOR
                else:
                    display = f"{first} {last}".strip()
                    role = Role.BUYER
                email = f"{local}.{market.code.lower()}{kind.value[0]}{n}@example.com"
                pool.append(CustomerSpec(external_id, market.code, kind, display, first, email, language, role))
            pools[(market.code, kind)] = pool
    return pools
