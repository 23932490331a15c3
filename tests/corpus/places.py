"""Per-country data: locales, company names, addresses, banks, tax ids and phone numbers.

All identifiers are synthetic but well formed (IBANs and several VAT ids carry valid check
digits) so that validating extractors are exercised too.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Locale:
    code: str
    lang: str
    country: str  # ISO 3166 alpha-2
    country_names: tuple[str, ...]
    currency: str
    symbol: str
    tax_rates: tuple[Decimal, ...]  # standard rate first
    tax_names: tuple[str, ...]
    vendor_tax_labels: tuple[str, ...]
    # (thousands separator, decimal separator) alternatives; first is the most common.
    number_styles: tuple[tuple[str, str], ...]
    # money patterns: {n} number, {s} symbol, {c} ISO code
    money_patterns: tuple[str, ...]
    date_styles: tuple[str, ...]
    page_format: str = "A4"
    # smallest number of integer digits that gets a thousands separator (alternatives)
    group_min: tuple[int, ...] = (4,)


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


NBSP = "\u00a0"
NNBSP = "\u202f"

# fmt: off
LOCALES: dict[str, Locale] = {
    loc.code: loc
    for loc in (
        Locale(
            "en-US", "en", "US", ("USA", "United States"), "USD", "$", _d("8.875", "7.25", "6"),
            ("Sales Tax", "Tax"), ("EIN", "Tax ID", "Federal Tax ID"),
            ((",", "."),), ("{s}{n}", "{c} {n}", "{n} {c}"),
            ("mdy_slash", "mdy_slash2", "month_d_y", "mon_d_y", "iso"), "Letter",
        ),
        Locale(
            "en-GB", "en", "GB", ("United Kingdom", "UK"), "GBP", "£", _d("20", "5"),
            ("VAT",), ("VAT Reg. No.", "VAT No.", "VAT Registration No.", "VAT Number"),
            ((",", "."),), ("{s}{n}", "{c} {n}", "{n} {c}"),
            ("dmy_slash", "d_month_y", "d_mon_y", "dash_mon", "ordinal_month", "iso"),
        ),
        Locale(
            "en-IE", "en", "IE", ("Ireland",), "EUR", "€", _d("23", "13.5"),
            ("VAT",), ("VAT No.", "VAT Reg. No."),
            ((",", "."),), ("{s}{n}", "{c} {n}", "{n} {c}"),
            ("dmy_slash", "d_month_y", "d_mon_y", "dash_mon", "iso"),
        ),
        Locale(
            "de-DE", "de", "DE", ("Deutschland", "Germany"), "EUR", "€", _d("19", "7"),
            ("MwSt.", "USt.", "Umsatzsteuer", "Mehrwertsteuer"),
            ("USt-IdNr.", "USt.-ID", "Umsatzsteuer-ID", "USt-ID-Nr."),
            ((".", ","), ("", ",")), ("{n} {s}", "{n} {c}", "{c} {n}", "{s} {n}"),
            ("dmy_dot", "dmy_dot", "dmy_dot2", "dmy_dot_nopad", "d_month_y", "d_mon_y", "iso"),
        ),
        Locale(
            "de-AT", "de", "AT", ("Österreich", "Austria"), "EUR", "€", _d("20", "10"),
            ("USt.", "MwSt."), ("UID-Nr.", "UID", "USt-IdNr."),
            ((".", ","), (" ", ",")), ("{n} {s}", "{s} {n}", "{c} {n}", "{n} {c}"),
            ("dmy_dot", "dmy_dot", "d_month_y", "iso"),
        ),
        Locale(
            "de-CH", "de", "CH", ("Schweiz", "Switzerland"), "CHF", "CHF", _d("8.1", "2.6"),
            ("MWST", "MwSt."), ("MWST-Nr.", "UID", "MwSt-Nr."),
            (("'", "."), ("’", ".")), ("{c} {n}", "{n} {c}"),
            ("dmy_dot", "dmy_dot", "d_month_y", "iso"),
        ),
        Locale(
            "fr-FR", "fr", "FR", ("France",), "EUR", "€", _d("20", "10", "5.5"),
            ("TVA",), ("N° TVA intracom.", "TVA intracommunautaire", "N° TVA", "Numéro de TVA"),
            ((NNBSP, ","), (NBSP, ","), (" ", ","), (".", ",")),
            ("{n} {s}", "{n} {c}", "{n}{s}"),
            ("dmy_slash", "dmy_slash", "d_month_y", "d_mon_y", "dmy_dot", "iso"),
        ),
        Locale(
            "fr-BE", "fr", "BE", ("Belgique",), "EUR", "€", _d("21", "6"),
            ("TVA",), ("N° TVA", "TVA", "N° d'entreprise"),
            ((".", ","), (" ", ",")), ("{n} {s}", "{s} {n}", "{n} {c}"),
            ("dmy_slash", "d_month_y", "dmy_dot"),
        ),
        Locale(
            "nl-NL", "nl", "NL", ("Nederland", "The Netherlands"), "EUR", "€", _d("21", "9"),
            ("BTW", "btw"), ("BTW-nummer", "BTW-nr.", "Btw-id", "BTW nr"),
            ((".", ","),), ("{s} {n}", "{s}{n}", "{c} {n}", "{n} {c}"),
            ("dmy_dash", "dmy_dash", "d_month_y", "d_mon_y", "iso", "dmy_slash"),
        ),
        Locale(
            "nl-BE", "nl", "BE", ("België", "Belgium"), "EUR", "€", _d("21", "6"),
            ("BTW", "btw"), ("BTW-nr.", "Ondernemingsnummer", "BTW"),
            ((".", ","),), ("{s} {n}", "{n} {s}", "{c} {n}"),
            ("dmy_slash", "dmy_dash", "d_month_y", "dmy_dot"),
        ),
        Locale(
            "es-ES", "es", "ES", ("España", "Spain"), "EUR", "€", _d("21", "10"),
            ("IVA",), ("NIF", "CIF", "NIF/CIF", "N.I.F."),
            ((".", ","),), ("{n} {s}", "{n}{s}", "{n} {c}"),
            ("dmy_slash", "dmy_slash", "dmy_dash", "d_month_y", "d_mon_y", "dash_mon"),
            group_min=(4, 5),  # RAE style: no separator in four-digit numbers ("1234,56")
        ),
        Locale(
            "it-IT", "it", "IT", ("Italia", "Italy"), "EUR", "€", _d("22", "10", "4"),
            ("IVA",), ("P.IVA", "Partita IVA", "P. IVA"),
            ((".", ","), ("", ",")), ("{s} {n}", "{n} {s}", "{c} {n}", "{n} {c}"),
            ("dmy_slash", "dmy_slash", "dmy_dot", "dmy_dash", "d_month_y", "d_mon_y"),
        ),
    )
}
# fmt: on

# Which locales each language draws from, with weights.
LANGUAGE_LOCALES: dict[str, tuple[tuple[str, int], ...]] = {
    "en": (("en-US", 4), ("en-GB", 4), ("en-IE", 2)),
    "de": (("de-DE", 6), ("de-AT", 2), ("de-CH", 2)),
    "fr": (("fr-FR", 7), ("fr-BE", 3)),
    "nl": (("nl-NL", 7), ("nl-BE", 3)),
    "es": (("es-ES", 1),),
    "it": (("it-IT", 1),),
}


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class NameData:
    surnames: tuple[str, ...]
    industries: tuple[str, ...]
    brands: tuple[str, ...]
    patterns: tuple[str, ...]  # {s} {s2} surname, {i} industry, {b} brand
    people: tuple[str, ...]  # contact persons / managing directors


# fmt: off
_BRANDS = (
    "Nordic", "Apex", "Bluewater", "Summit", "Horizon", "Keystone", "Silverline", "Northstar",
    "Evergreen", "Granite", "Pioneer", "Atlas", "Orion", "Meridian", "Vertex", "Lumen",
    "Quadra", "Helix", "Solaris", "Cobalt",
)
# fmt: on

# fmt: off
NAMES: dict[str, NameData] = {
    "DE": NameData(
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
         "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Köhler", "Weiß"),
        ("Haustechnik", "Elektrotechnik", "Metallbau", "Bürobedarf", "IT-Service", "Logistik",
         "Druckerei", "Maschinenbau", "Softwareentwicklung", "Gebäudereinigung", "Sanitär",
         "Werkzeughandel", "Medientechnik", "Verpackungen"),
        (*_BRANDS, "Nordwind", "Techwerk", "Datalog", "Lichtblick", "Rheinblick", "Westfalia"),
        ("{s} {i} GmbH", "{s} & {s2} GmbH & Co. KG", "{b} {i} AG", "{b} GmbH",
         "{s} & Söhne KG", "{i} {s} e.K.", "{s} {i} GmbH"),
        ("Thomas Becker", "Sabine Krause", "Michael Wolf", "Julia Hartmann", "Stefan Neumann",
         "Anna Lehmann", "Jürgen Köhler", "Katrin Schäfer"),
    ),
    "AT": NameData(
        ("Huber", "Gruber", "Wagner", "Pichler", "Steiner", "Moser", "Mayer", "Hofer",
         "Leitner", "Berger", "Fuchs", "Eder", "Fischer", "Schmid", "Winkler", "Weber"),
        ("Haustechnik", "Elektro", "Tischlerei", "Bürotechnik", "IT-Dienstleistungen",
         "Transporte", "Baumeister", "Installationen"),
        (*_BRANDS, "Alpina", "Donautal", "Tauern"),
        ("{s} {i} GmbH", "{s} & {s2} OG", "{b} {i} GmbH", "{s} KG"),
        ("Andreas Gruber", "Maria Huber", "Christoph Leitner", "Elisabeth Moser"),
    ),
    "CH": NameData(
        ("Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer",
         "Steiner", "Fischer", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann"),
        ("Haustechnik", "Informatik", "Treuhand", "Elektro", "Bau", "Logistik", "Druck"),
        (*_BRANDS, "Helvetia", "Alpstein", "Rigi", "Seeland"),
        ("{s} {i} AG", "{b} {i} AG", "{s} & {s2} GmbH", "{b} AG"),
        ("Beat Keller", "Ursula Meier", "Reto Brunner", "Corinne Frei"),
    ),
    "FR": NameData(
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
         "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garnier", "Fournier",
         "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François"),
        ("Électricité", "Informatique", "Plomberie", "Fournitures", "Transports", "Imprimerie",
         "Conseil", "Bâtiment", "Menuiserie", "Nettoyage", "Équipements"),
        (*_BRANDS, "Azur", "Bretagne Services", "Provence Tech", "Lutèce"),
        ("{s} {i} S.A.R.L.", "SARL {s} et Fils", "{s} {i} SAS", "{b} S.A.",
         "Établissements {s}", "{b} {i} SAS", "{s} & Associés"),
        ("Pierre Martin", "Sophie Durand", "Nicolas Lefebvre", "Camille Moreau",
         "Julien Garnier", "Émilie Fournier"),
    ),
    # Belgium: French-speaking (Brussels, Wallonia) and Dutch-speaking (Flanders) regions
    "BE-fr": NameData(
        ("Dubois", "Lambert", "Dupont", "Martin", "Lemaire", "Leclercq", "Renard", "Lejeune",
         "Collignon", "Delvaux"),
        ("Services", "Informatique", "Construction", "Logistique", "Conseil", "Techniques"),
        (*_BRANDS, "Brabant", "Ardenne", "Meuse"),
        ("{s} {i} SRL", "{b} S.A.", "{s} & {s2} SRL", "{b} {i} SA", "{s} {i} SPRL"),
        ("Marie Dubois", "Philippe Lambert", "Isabelle Renard", "Olivier Lejeune"),
    ),
    "BE-nl": NameData(
        ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens",
         "Wouters", "De Smet"),
        ("Techniek", "Bouw", "ICT", "Logistiek", "Advies", "Installaties"),
        (*_BRANDS, "Brabant", "Kempen", "Schelde"),
        ("{s} {i} BV", "{b} {i} NV", "{s} & {s2} BV", "{b} NV", "{s} {i} BVBA"),
        ("Jan Peeters", "Luc Mertens", "An Willems", "Sofie Claes"),
    ),
    "NL": NameData(
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
         "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
         "Hendriks", "van Leeuwen", "Dekker", "Brouwer"),
        ("Installatietechniek", "Logistiek", "ICT Diensten", "Kantoorartikelen", "Bouw",
         "Drukkerij", "Schoonmaak", "Techniek", "Advies", "Elektro"),
        (*_BRANDS, "Polder", "Noordzee", "Zuidas", "Oranje"),
        ("{s} {i} B.V.", "{b} B.V.", "{s} & {s2} V.O.F.", "{s} {i} BV", "{b} {i} B.V."),
        ("Jeroen de Vries", "Sanne Bakker", "Pieter Visser", "Lotte Mulder", "Daan Smit"),
    ),
    "ES": NameData(
        ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
         "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno",
         "Muñoz", "Álvarez", "Romero", "Navarro", "Torres"),
        ("Instalaciones", "Suministros", "Informática", "Transportes", "Construcciones",
         "Asesores", "Artes Gráficas", "Climatización", "Servicios Integrales",
         "Distribuciones"),
        (*_BRANDS, "Ibérica", "Levante", "Mediterránea", "Cantábrica"),
        ("{i} {s} S.L.", "{s} y {s2} S.L.", "{b} S.A.", "{i} {b} S.L.U.", "Hermanos {s} S.L."),
        ("Javier García", "Lucía Fernández", "Carlos Ruiz", "Marta Navarro", "Pablo Moreno"),
    ),
    "IT": NameData(
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
         "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
         "Giordano", "Rizzo", "Lombardi", "Moretti"),
        ("Impianti", "Forniture", "Informatica", "Trasporti", "Costruzioni", "Consulting",
         "Grafiche", "Elettronica", "Servizi", "Meccanica"),
        (*_BRANDS, "Italica", "Adriatica", "Tirreno", "Dolomiti"),
        ("{s} {i} S.r.l.", "{i} {s} S.p.A.", "{b} S.r.l.", "{s} & {s2} S.n.c.", "{s} {i} SRL"),
        ("Marco Rossi", "Giulia Bianchi", "Luca Ferrari", "Chiara Romano", "Andrea Colombo"),
    ),
    "GB": NameData(
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
         "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
         "Hall", "Wood", "Jackson", "Clarke"),
        ("Engineering", "Consulting", "Office Supplies", "Logistics", "Print Solutions",
         "Facilities Management", "Software", "Electrical Services", "Building Services"),
        (*_BRANDS, "Thames", "Pennine", "Highland", "Cotswold"),
        ("{s} {i} Ltd", "{s} & {s2} Ltd", "{b} {i} Limited", "{b} PLC", "{s} & Co Ltd"),
        ("James Taylor", "Emma Wilson", "Oliver Brown", "Charlotte Evans", "Harry Clarke"),
    ),
    "US": NameData(
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Garcia",
         "Rodriguez", "Wilson", "Anderson", "Thomas", "Moore", "Martin", "Jackson", "Lee",
         "Harris", "Clark", "Lewis", "Walker"),
        ("Solutions", "Technologies", "Industrial Supply", "Consulting Group", "Logistics",
         "Systems", "Office Products", "Engineering", "Services"),
        (*_BRANDS, "Liberty", "Lakeside", "Redwood", "Prairie"),
        ("{s} {i} Inc.", "{b} {i} LLC", "{s} & {s2}, Inc.", "{b} Corp.", "{b} {i}, Inc."),
        ("John Miller", "Sarah Johnson", "David Lee", "Jennifer Clark", "Robert Lewis"),
    ),
    "IE": NameData(
        ("Murphy", "Kelly", "O'Sullivan", "Walsh", "O'Brien", "Byrne", "Ryan", "O'Connor",
         "O'Neill", "McCarthy", "Doyle", "Lynch"),
        ("Engineering", "Consulting", "Supplies", "Logistics", "Software", "Print"),
        (*_BRANDS, "Shamrock", "Liffey", "Atlantic"),
        ("{s} {i} Ltd", "{b} {i} Limited", "{s} & Sons Ltd", "{b} DAC"),
        ("Sean Murphy", "Aoife Kelly", "Ciara Byrne", "Conor Walsh"),
    ),
}
# fmt: on


def company_name(rng: random.Random, country: str) -> str:
    """A company name for a country or ``region``."""
    data = NAMES[country]
    s, s2 = rng.sample(data.surnames, 2)
    text = rng.choice(data.patterns).format(
        s=s, s2=s2, i=rng.choice(data.industries), b=rng.choice(data.brands)
    )
    return text[0].upper() + text[1:]


def brand_of(name: str) -> str:
    """A logo-like brand from a company name ("Müller Haustechnik GmbH" -> "MÜLLER")."""
    words = [w for w in re.split(r"[\s&,]+", name) if w and w[0].isupper()]
    skip = {"SARL", "SAS", "Établissements", "Hermanos", "SRL"}
    words = [w for w in words if w not in skip] or [name.split()[0]]
    return words[0].upper()


# --------------------------------------------------------------------------- addresses

# fmt: off
STREETS: dict[str, tuple[str, ...]] = {
    "DE": ("Hauptstraße", "Bahnhofstraße", "Industriestraße", "Gartenweg", "Lindenallee",
           "Schillerstraße", "Goethestraße", "Friedrichstraße", "Mühlenweg", "Siemensstraße",
           "Rosenstraße", "Am Marktplatz"),
    "AT": ("Mariahilfer Straße", "Landstraßer Hauptstraße", "Herrengasse", "Wiener Straße",
           "Linzer Straße", "Kärntner Ring"),
    "CH": ("Bahnhofstrasse", "Seestrasse", "Industriestrasse", "Dorfstrasse", "Hauptgasse",
           "Zürichstrasse"),
    "FR": ("rue de la République", "avenue Jean Jaurès", "boulevard Voltaire", "rue Victor Hugo",
           "rue du Commerce", "place de la Gare", "chemin des Vignes", "rue Pasteur",
           "allée des Tilleuls", "rue de Paris"),
    "BE-fr": ("Rue de la Loi", "Avenue Louise", "Chaussée de Wavre", "Rue Neuve",
              "Boulevard d'Avroy", "Rue de Fer"),
    "BE-nl": ("Meir", "Kerkstraat", "Stationsstraat", "Nijverheidsstraat", "Grote Markt",
              "Veldstraat"),
    "NL": ("Keizersgracht", "Kerkstraat", "Stationsweg", "Industrieweg", "Dorpsstraat",
           "Molenweg", "Nieuwe Binnenweg", "Hoofdstraat", "Julianalaan"),
    "ES": ("Calle Mayor", "Calle de Alcalá", "Avenida Diagonal", "Paseo de la Castellana",
           "Gran Vía", "Avenida de la Constitución", "Calle Colón", "C/ San Vicente"),
    "IT": ("Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Via Mazzini",
           "Piazza della Repubblica", "Via dell'Industria", "Viale Europa", "Via Verdi",
           "Via Cavour", "Via G. Marconi"),
    "GB": ("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue",
           "Mill Lane", "King Street", "Queens Road", "Albion Street"),
    "US": ("Main Street", "Market Street", "Oak Avenue", "Elm Street", "Broadway",
           "Washington Blvd", "Industrial Parkway", "Commerce Drive", "Pine Street"),
    "IE": ("Grafton Street", "Main Street", "O'Connell Street", "Patrick Street", "Shop Street"),
}

# (postcode, city[, region]) per country
CITIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "DE": (("10115", "Berlin"), ("80331", "München"), ("20095", "Hamburg"), ("50667", "Köln"),
           ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"), ("40213", "Düsseldorf"),
           ("04109", "Leipzig"), ("01067", "Dresden"), ("90402", "Nürnberg"),
           ("30159", "Hannover"), ("28195", "Bremen"), ("79098", "Freiburg im Breisgau")),
    "AT": (("1010", "Wien"), ("1060", "Wien"), ("8010", "Graz"), ("4020", "Linz"),
           ("5020", "Salzburg"), ("6020", "Innsbruck")),
    "CH": (("8001", "Zürich"), ("3011", "Bern"), ("4051", "Basel"), ("6003", "Luzern"),
           ("9000", "St. Gallen"), ("8400", "Winterthur")),
    "FR": (("75011", "Paris"), ("69002", "Lyon"), ("13001", "Marseille"), ("31000", "Toulouse"),
           ("33000", "Bordeaux"), ("59000", "Lille"), ("44000", "Nantes"),
           ("67000", "Strasbourg"), ("35000", "Rennes")),
    "BE-fr": (("1000", "Bruxelles"), ("1050", "Ixelles"), ("4000", "Liège"), ("5000", "Namur"),
              ("6000", "Charleroi"), ("7000", "Mons")),
    "BE-nl": (("2000", "Antwerpen"), ("9000", "Gent"), ("3000", "Leuven"), ("8000", "Brugge"),
              ("2800", "Mechelen"), ("3500", "Hasselt")),
    "NL": (("1015", "Amsterdam"), ("3011", "Rotterdam"), ("2511", "Den Haag"),
           ("3511", "Utrecht"), ("5611", "Eindhoven"), ("9711", "Groningen"),
           ("6811", "Arnhem"), ("4811", "Breda")),
    "ES": (("28013", "Madrid"), ("08011", "Barcelona"), ("46002", "Valencia"),
           ("41001", "Sevilla"), ("50001", "Zaragoza"), ("29005", "Málaga"),
           ("48001", "Bilbao"), ("03001", "Alicante")),
    "IT": (("20121", "Milano", "MI"), ("00184", "Roma", "RM"), ("10121", "Torino", "TO"),
           ("40121", "Bologna", "BO"), ("50123", "Firenze", "FI"), ("80133", "Napoli", "NA"),
           ("35121", "Padova", "PD"), ("37121", "Verona", "VR")),
    "GB": (("EC1A 1BB", "London"), ("M1 1AE", "Manchester"), ("B1 1AA", "Birmingham"),
           ("LS1 4DY", "Leeds"), ("BS1 4DJ", "Bristol"), ("G1 1XQ", "Glasgow"),
           ("EH1 1YZ", "Edinburgh"), ("CF10 1EP", "Cardiff")),
    "US": (("94103", "San Francisco", "CA"), ("10001", "New York", "NY"),
           ("60601", "Chicago", "IL"), ("78701", "Austin", "TX"), ("98101", "Seattle", "WA"),
           ("02110", "Boston", "MA"), ("80202", "Denver", "CO"), ("30303", "Atlanta", "GA")),
    "IE": (("D02 X285", "Dublin 2"), ("T12 RX2A", "Cork"), ("H91 E2K3", "Galway"),
           ("V94 T9PX", "Limerick")),
}
# fmt: on


def region(locale: Locale) -> str:
    """Key of the name and address tables: the country, or "BE-fr" / "BE-nl" for Belgium."""
    return f"BE-{locale.lang}" if locale.country == "BE" else locale.country


def address_lines(rng: random.Random, country: str) -> list[str]:
    """Street and city lines as printed in that country or ``region`` (no name, no country)."""
    street = rng.choice(STREETS[country])
    city_row = rng.choice(CITIES[country])
    pc, city = city_row[0], city_row[1]
    num = str(rng.randint(1, 180))
    if country in ("DE", "AT", "CH", "BE-fr", "BE-nl"):
        suffix = {"DE": ("", "", "", "a", "b"), "AT": ("", "", f"/{rng.randint(1, 12)}")}
        num += rng.choice(suffix.get(country, ("",)))
        return [f"{street} {num}", f"{pc} {city}"]
    if country == "FR":
        num = str(rng.randint(1, 90)) + rng.choice(("", "", "", " bis"))
        city_line = f"{pc} {city.upper() if rng.random() < 0.3 else city}"
        if rng.random() < 0.15:
            city_line += " Cedex"
        lines = [f"{num} {street}", city_line]
        if rng.random() < 0.2:
            lines.insert(
                1, rng.choice(("ZI des Platanes", "Bâtiment B", f"BP {rng.randint(1, 999)}"))
            )
        return lines
    if country == "NL":
        num += rng.choice(("", "", "-A", " B"))
        letters = "".join(rng.choice("ABCEGHJKLMNPRTVWXZ") for _ in range(2))
        return [f"{street} {num}", f"{pc} {letters} {city}"]
    if country == "ES":
        floor = rng.choice(("", "", f", {rng.randint(1, 8)}º {rng.choice('ABCD')}"))
        prov = f" ({city})" if rng.random() < 0.3 else ""
        return [f"{street}, {num}{floor}", f"{pc} {city}{prov}"]
    if country == "IT":
        sep = rng.choice((", ", " ", ", n. "))
        return [f"{street}{sep}{num}", f"{pc} {city} ({city_row[2]})"]
    if country == "GB":
        lines = [f"{num} {street}"]
        if rng.random() < 0.25:
            lines.insert(0, f"Unit {rng.randint(1, 30)}, Riverside Business Park")
        return [*lines, city, pc] if rng.random() < 0.5 else [*lines, f"{city} {pc}"]
    if country == "US":
        line = f"{rng.randint(100, 9999)} {street}"
        if rng.random() < 0.4:
            line += f", Suite {rng.randint(100, 990)}"
        return [line, f"{city}, {city_row[2]} {pc}"]
    if country == "IE":
        return [f"{num} {street}", city, pc]
    raise ValueError(country)


def phone_number(rng: random.Random, country: str) -> str:
    def d(n: int) -> str:
        return _digits(rng, n)

    return {
        "DE": f"+49 {rng.choice(('30', '89', '40', '221', '69'))} {d(6)}-{d(1)}",
        "AT": f"+43 1 {d(3)} {d(2)} {d(2)}",
        "CH": f"+41 44 {d(3)} {d(2)} {d(2)}",
        "FR": f"+33 {rng.randint(1, 5)} {d(2)} {d(2)} {d(2)} {d(2)}",
        "BE": f"+32 2 {d(3)} {d(2)} {d(2)}",
        "NL": f"+31 {rng.choice(('20', '10', '30', '70'))} {d(3)} {d(4)}",
        "ES": f"+34 9{d(2)} {d(3)} {d(3)}",
        "IT": f"+39 0{d(1)} {d(7)}",
        "GB": f"+44 {rng.choice(('20', '161', '121'))} {d(4)} {d(4)}",
        "US": f"({d(3)}) 555-{d(4)}",
        "IE": f"+353 1 {d(3)} {d(4)}",
    }[country]


# fmt: off
_LEGAL_WORDS = frozenset((
    "gmbh", "ag", "kg", "co", "e", "k", "s", "a", "r", "l", "sas", "sarl", "b", "v", "bv", "srl",
    "spa", "p", "n", "c", "ltd", "limited", "plc", "inc", "llc", "corp", "u", "et", "fils", "y",
    "de", "o", "f", "dac", "nv", "og", "and", "sons",
))
# fmt: on


def email_domain(name: str, country: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("ß", "ss")).encode("ascii", "ignore")
    words = [w for w in re.split(r"[^a-z0-9]+", ascii_name.decode().lower()) if w]
    words = [w for w in words if w not in _LEGAL_WORDS][:2] or ["info"]
    tld = {"GB": "co.uk", "US": "com", "IE": "ie"}.get(country, country.lower())
    return "-".join(words) + "." + tld


# --------------------------------------------------------------------------- banks


@dataclass(frozen=True)
class Bank:
    name: str
    bic: str
    code: str  # bank code used inside the IBAN


# fmt: off
BANKS: dict[str, tuple[Bank, ...]] = {
    "DE": (Bank("Commerzbank AG", "COBADEFFXXX", "37040044"),
           Bank("Deutsche Bank", "DEUTDEFFXXX", "50070010"),
           Bank("Stadtsparkasse München", "SSKMDEMMXXX", "70150000"),
           Bank("Berliner Volksbank", "BEVODEBB", "10090000"),
           Bank("HypoVereinsbank", "HYVEDEMMXXX", "70020270")),
    "AT": (Bank("Erste Bank", "GIBAATWWXXX", "20111"),
           Bank("Raiffeisenlandesbank NÖ-Wien", "RLNWATWW", "32000"),
           Bank("UniCredit Bank Austria", "BKAUATWW", "12000")),
    "CH": (Bank("UBS Switzerland AG", "UBSWCHZH80A", "00230"),
           Bank("PostFinance AG", "POFICHBEXXX", "09000"),
           Bank("Zürcher Kantonalbank", "ZKBKCHZZ80A", "00700")),
    "FR": (Bank("BNP Paribas", "BNPAFRPPXXX", "30004"),
           Bank("Société Générale", "SOGEFRPP", "30003"),
           Bank("Crédit Agricole", "AGRIFRPP882", "18206"),
           Bank("LCL", "CRLYFRPP", "30002")),
    "BE": (Bank("KBC Bank", "KREDBEBB", "734"),
           Bank("BNP Paribas Fortis", "GEBABEBB", "001"),
           Bank("Belfius", "GKCCBEBB", "068"),
           Bank("ING Belgique", "BBRUBEBB", "310")),
    "NL": (Bank("ABN AMRO", "ABNANL2A", "ABNA"),
           Bank("ING Bank", "INGBNL2A", "INGB"),
           Bank("Rabobank", "RABONL2U", "RABO"),
           Bank("Triodos Bank", "TRIONL2U", "TRIO")),
    "ES": (Bank("CaixaBank", "CAIXESBBXXX", "2100"),
           Bank("BBVA", "BBVAESMMXXX", "0182"),
           Bank("Banco Santander", "BSCHESMMXXX", "0049"),
           Bank("Banco Sabadell", "BSABESBBXXX", "0081")),
    "IT": (Bank("Intesa Sanpaolo", "BCITITMM", "03069"),
           Bank("UniCredit", "UNCRITMMXXX", "02008"),
           Bank("Banco BPM", "BAPPIT21XXX", "05034"),
           Bank("BPER Banca", "BPMOIT22XXX", "05387")),
    "GB": (Bank("NatWest", "NWBKGB2L", "NWBK"),
           Bank("Barclays Bank", "BARCGB22", "BARC"),
           Bank("HSBC UK", "HBUKGB4B", "HBUK"),
           Bank("Lloyds Bank", "LOYDGB2L", "LOYD")),
    "IE": (Bank("AIB", "AIBKIE2D", "AIBK"), Bank("Bank of Ireland", "BOFIIE2D", "BOFI")),
    "US": (Bank("JPMorgan Chase Bank", "CHASUS33", "021000021"),
           Bank("Bank of America", "BOFAUS3N", "026009593"),
           Bank("Wells Fargo Bank", "WFBIUS6S", "121000248")),
}
# fmt: on


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def _iban_check(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_is_valid(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def make_iban(rng: random.Random, country: str, bank: Bank) -> str:
    """A well-formed IBAN (valid mod-97 check digits) for the bank; no spaces."""
    if country == "DE":
        bban = bank.code + _digits(rng, 10)
    elif country == "AT":
        bban = bank.code + _digits(rng, 11)
    elif country == "CH":
        bban = bank.code + _digits(rng, 12)
    elif country == "FR":
        bban = bank.code + _digits(rng, 5) + _digits(rng, 11) + _digits(rng, 2)
    elif country == "BE":
        first = bank.code + _digits(rng, 7)
        check = int(first) % 97 or 97
        bban = f"{first}{check:02d}"
    elif country == "NL":
        bban = bank.code + _digits(rng, 10)
    elif country == "ES":
        bban = bank.code + _digits(rng, 4) + _digits(rng, 2) + _digits(rng, 10)
    elif country == "IT":
        bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + bank.code + _digits(rng, 5)
        bban += _digits(rng, 12)
    elif country in ("GB", "IE"):
        bban = bank.code + _digits(rng, 6) + _digits(rng, 8)
    else:
        raise ValueError(country)
    return country + _iban_check(country, bban) + bban


def group4(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


# --------------------------------------------------------------------------- tax ids


def vat_id(rng: random.Random, country: str) -> tuple[str, str]:
    """(canonical id without spaces, printed form) for a company in ``country``."""
    if country == "DE":
        core = _digits(rng, 9)
        canon = "DE" + core
        return canon, rng.choice((canon, f"DE {core[:3]} {core[3:6]} {core[6:]}", f"DE{core}"))
    if country == "AT":
        canon = "ATU" + _digits(rng, 8)
        return canon, rng.choice((canon, f"ATU {canon[3:]}"))
    if country == "CH":
        d = _digits(rng, 9)
        canon = f"CHE-{d[:3]}.{d[3:6]}.{d[6:]}"
        return canon, canon
    if country == "FR":
        siren = str(rng.randint(300_000_000, 999_999_999))
        key = (12 + 3 * (int(siren) % 97)) % 97
        canon = f"FR{key:02d}{siren}"
        return canon, rng.choice((canon, f"FR {key:02d} {siren}", f"FR{key:02d} {siren}"))
    if country == "BE":
        first = "0" + _digits(rng, 7)
        num = f"{first}{97 - int(first) % 97:02d}"
        canon = "BE" + num
        dotted = f"BE {num[:4]}.{num[4:7]}.{num[7:]}"
        return (canon, canon) if rng.random() < 0.5 else (dotted.replace(" ", ""), dotted)
    if country == "NL":
        canon = f"NL{_digits(rng, 9)}B{rng.randint(1, 3):02d}"
        return canon, canon
    if country == "ES":
        core = rng.choice("ABG") + _digits(rng, 8)
        return ("ES" + core, "ES" + core) if rng.random() < 0.5 else (core, core)
    if country == "IT":
        core = _digits(rng, 11)
        return ("IT" + core, "IT" + core) if rng.random() < 0.5 else (core, core)
    if country == "GB":
        core = _digits(rng, 9)
        return "GB" + core, rng.choice(("GB" + core, f"GB {core[:3]} {core[3:7]} {core[7:]}"))
    if country == "IE":
        canon = "IE" + _digits(rng, 7) + rng.choice(("T", "WA", "H", "FA"))
        return canon, canon
    if country == "US":
        d = _digits(rng, 9)
        canon = f"{d[:2]}-{d[2:]}"
        return canon, canon
    raise ValueError(country)


def register_lines(rng: random.Random, country: str, city: str, director: str) -> list[str]:
    """Legal footer lines (company register, capital, ...): realistic distractors."""
    city_name = re.sub(r"^\d{4,5}\s+|\s+Cedex$", "", city, flags=re.IGNORECASE)
    if country == "DE":
        lines = [f"Amtsgericht {city_name} HRB {rng.randint(1000, 99999)}"]
        lines.append(f"Geschäftsführer: {director}")
        if rng.random() < 0.4:
            lines.append(f"Steuernr. {_digits(rng, 3)}/{_digits(rng, 3)}/{_digits(rng, 5)}")
        return lines
    if country == "AT":
        return [f"FN {rng.randint(10000, 999999)}{rng.choice('abdfhkmpstvz')}, {city_name}"]
    if country == "CH":
        return [f"Handelsregister des Kantons {rng.choice(('Zürich', 'Bern', 'Luzern'))}"]
    if country == "FR":
        siren = _digits(rng, 9)
        cap = rng.choice(("7 500", "10 000", "50 000", "150 000"))
        return [
            f"SIRET {siren[:3]} {siren[3:6]} {siren[6:]} {_digits(rng, 5)}",
            f"RCS {city_name} B {siren[:3]} {siren[3:6]} {siren[6:]}",
            f"Capital social {cap} €",
        ]
    if country == "BE":
        return [f"RPM {rng.choice(('Bruxelles', 'Antwerpen', 'Gent', 'Liège'))}"]
    if country == "NL":
        return [f"KvK {_digits(rng, 8)}"]
    if country == "ES":
        return [
            f"Inscrita en el Registro Mercantil de {city_name.split(' (')[0]}, "
            f"Tomo {rng.randint(1000, 40000)}, Folio {rng.randint(1, 220)}, "
            f"Hoja {rng.choice('MBVS')}-{rng.randint(10000, 600000)}"
        ]
    if country == "IT":
        return [
            f"Cap. soc. € {rng.choice(('10.000', '50.000', '100.000'))} i.v.",
            f"REA {rng.choice(('MI', 'RM', 'TO', 'BO'))}-{rng.randint(100000, 2999999)}",
        ]
    if country == "GB":
        return [f"Registered in England and Wales No. {_digits(rng, 8)}"]
    if country == "IE":
        return [f"Registered in Ireland No. {rng.randint(100000, 799999)}"]
    return []
