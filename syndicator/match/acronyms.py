"""An acronym at the head of a closed German compound: `NATO` finds "Natoerweiterung".

German spelling joins an acronym to its noun with a hyphen ("NATO-Erweiterung", "EU-Kommission"),
and those spellings are whole-word matches anyway. Some publishers close the compound once the
acronym has become a word of its own ("Natoerweiterung", "Unosicherheitsrat"). Letters alone
cannot tell that compound from a longer word: "Natolin", "Natorp", "Europa" (`EU` + "ropa"),
"Unrat" (`UN` + "Rat"), "Island" (`IS` + "land"), "Usability" (`USA` + "bility"). So:

* only a query term written as an acronym (2-5 capital letters as typed, no wildcard: `NATO`,
  `EU`, `UNO`, `ÖVP`) is looked for at the head of a closed compound, and
* only when the rest of the word is one of the nouns below: the institutional nouns that German
  news joins to an organisation's acronym (summit, member states, accession, secretary general,
  troops, commission, ...).

The list is data: a noun is here only if no everyday word is a short acronym followed by it.
"Rat", "Recht", "Land", "Fall", "Ebene", "Sicherheit" and "Frieden" stay out (Unrat, Unrecht,
Island, Unfall, unebene, Unsicherheit, Unfrieden); tests/unit/test_match.py checks the traps.
"""

from __future__ import annotations

from syndicator.match.query import fold

_NOUNS = """
    Gipfel Gipfeltreffen Gipfelerklärung Treffen Konferenz Klimakonferenz
    Staaten Staat Mitglied Mitglieder Mitgliedschaft Mitgliedstaaten Mitgliedsstaaten
    Mitgliedsland Mitgliedsländer Länder Partner Partnerländer Partnerstaaten Partnerschaft
    Bündnis Bündnispartner Verbündete Verbündeten Beitritt Beitrittsantrag Beitrittsgespräche
    Beitrittsverhandlungen Beitrittskandidat Beitrittsland Beitrittsländer Kandidatenstatus
    Erweiterung Osterweiterung Norderweiterung Ostflanke Nordflanke Südflanke Austritt
    Generalsekretär Generalsekretärin Generalsekretariat Sekretariat Chef Chefin Spitze Führung
    Sprecher Sprecherin Botschafter Botschafterin Sondergesandte Sondergesandter
    Sonderbeauftragte Sonderbeauftragter Diplomaten Chefdiplomat Chefdiplomatin Delegation
    Präsident Präsidentin Präsidentschaft Ratspräsidentschaft Vorsitz Ratsvorsitz
    Kommission Kommissar Kommissarin Kommissionschef Kommissionschefin Kommissionspräsidentin
    Parlament Parlamentarier Abgeordnete Abgeordneten Sicherheitsrat Menschenrechtsrat
    Generalversammlung Resolution Resolutionen Charta Mandat Vertrag Verträge Gericht
    Gerichtshof Behörde Behörden Agentur Hilfswerk Flüchtlingshilfswerk Inspektoren Mission
    Missionen Truppen Soldaten Blauhelme Blauhelmsoldaten Streitkräfte Einsatz Einsätze
    Manöver Übung Übungen Kommando Oberkommando Hauptquartier Stützpunkt Stützpunkte
    Verbindungsbüro Militär Luftwaffe Marine Flotte Kampfjets Raketen Strategie Doktrin
    Verteidigungsausgaben Außenminister Außenministerin Außenministertreffen
    Verteidigungsminister Verteidigungsministerin Verteidigungsministertreffen Finanzminister
    Regierungschefs Staatschefs Sanktionen Sanktionspaket Richtlinie Verordnung Gesetz
    Gesetzgebung Haushalt Fonds Gelder Hilfen Binnenmarkt Außengrenze Außengrenzen
    Agrarpolitik Zulassung Bürger Bürgerinnen Kreise Kreisen Angaben Bericht Studie Experten
"""

HEADS: frozenset[str] = frozenset(fold(noun) for noun in _NOUNS.split())
"""The folded nouns an acronym may head in a closed compound ("gipfel", "generalsekretar")."""
