"""The shipped topics on short articles written for this test: other countries, other
years, other elections and diplomatic events than the development set's."""

from __future__ import annotations

import pytest

from tasks.topics import Document, load_topics

TOPICS = load_topics(None)

CASES = {
    "Chinese interference in Taiwan's election": (
        {"foreign-campaigning"},
        "Taiwan warns of Chinese interference before presidential election",
        "Taiwan's security officials said China was running a disinformation campaign to sway voters"
        " ahead of the presidential election.\nAnalysts said Chinese interference in the election had"
        " grown since the last vote.\nThe election commission said it would monitor foreign influence"
        " operations targeting voters.\nChina denied meddling in the election.",
    ),
    "Russian money in Moldova's referendum": (
        {"foreign-campaigning"},
        "Moldova accuses Russia of buying votes in EU referendum",
        "Moldova's president accused Russia of trying to buy votes in the referendum on joining the"
        " European Union.\nPolice said Russian money was funnelled to voters through a network of"
        " intermediaries.\nOfficials said the Kremlin was interfering in the referendum.\nMoscow denied"
        " any interference in the vote.",
    ),
    "domestic ballot fraud": (
        set(),
        "County officials investigate ballot fraud claims",
        "Election officials in the county said they were investigating claims of ballot fraud in the"
        " primary.\nThe state's election board will decide whether to certify the results.",
    ),
    "a Russian domestic election": (
        set(),
        "Putin wins fifth term in Russian election",
        "Vladimir Putin won a fifth term in Russia's presidential election, officials said.\nObservers"
        " reported ballot stuffing and pressure on voters.\nWestern governments criticised the election.",
    ),
    "a UK-US tariff deal": (
        {"uk-us-relations"},
        "Prime Minister and President agree deal to cut tariffs on British cars",
        "The Prime Minister Keir Starmer and President Donald Trump agreed a trade deal to cut US tariffs"
        " on British cars and steel.\nDowning Street said the agreement showed the strength of the special"
        " relationship.\nThe White House said the UK was the first country to reach a deal.",
    ),
    "an ambassador row": (
        {"uk-us-relations"},
        "UK ambassador resigns after leaked cables criticise White House",
        "Britain's ambassador to the US resigned after leaked diplomatic cables criticised the"
        " administration.\nThe President said the White House would no longer deal with the ambassador.\n"
        "The Foreign Secretary said the UK stood by its diplomat and valued its ties with Washington.",
    ),
    "Brexit with a President quoted in passing": (
        set(),
        "MPs reject Brexit deal as EU warns of no-deal",
        "MPs rejected the Prime Minister's Brexit deal for a third time.\nThe EU said a no-deal exit was"
        " now likely.\nIn Washington, the US President said Britain should have walked away.",
    ),
    "a NATO summit": (
        set(),
        "NATO allies agree to raise defence spending at summit",
        "NATO allies agreed to raise defence spending at the summit.\nThe US President and the British"
        " Prime Minister joined other leaders at the summit.",
    ),
    "an obituary": (
        set(),
        "Former British prime minister dies at 90",
        "The former prime minister, who forged close ties with the US President, has died.\nShe met the"
        " President at the White House many times and Britain and America were close allies in her time.\n"
        "The White House said the UK had lost a friend of the special relationship.",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_shipped_topics_follow_the_editorial_definitions(case: str) -> None:
    expected, title, body = CASES[case]
    found = {m.topic_id for m in TOPICS.match(Document(title=title, body=body, language="en"))}
    assert found == expected
