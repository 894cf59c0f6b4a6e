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
    # A foreign leader backing a candidate abroad: other countries, other years.
    "a Brazilian president rallying for a Bolivian candidate": (
        {"foreign-campaigning"},
        "Brazilian president joins rally for Bolivian presidential candidate",
        "Brazil's president appeared at a rally in Santa Cruz on Sunday and endorsed Ana Rojas, the"
        " opposition candidate in Bolivia's presidential election.\nRojas's rivals said the visit was"
        " foreign interference in a Bolivian election and asked the electoral tribunal to act.\n"
        "Bolivia's foreign ministry summoned the Brazilian ambassador.\nThe Brazilian president said he"
        " had campaigned for a friend, not against Bolivia.",
    ),
    "a French president endorsing a Romanian runoff candidate": (
        {"foreign-campaigning"},
        "Romanian candidate welcomes French president's backing before runoff",
        "The French president endorsed the centrist candidate in Romania's presidential runoff on"
        " Thursday, calling him the partner Europe needed.\nHis rival said Romanians would not take"
        " orders from Paris and accused France of meddling in the election.\nAnalysts said the French"
        " backing could help the candidate with urban voters in Romania's second round.",
    ),
    # Foreign consultants and strategists running part of a campaign abroad.
    "Israeli strategists running a Kenyan campaign": (
        {"foreign-campaigning"},
        "Israeli strategists ran candidate's campaign messaging in Kenyan election",
        "A team of Israeli strategists ran the social media and polling operation of a candidate in"
        " Kenya's presidential election, according to contracts seen by reporters.\nThe firm's"
        " consultants worked from the campaign's offices in Nairobi for four months.\nKenyan law lets"
        " candidates hire foreign consultants but requires them to declare the spending to the electoral"
        " commission.\nThe campaign said the Israeli advisers had broken no rules.",
    ),
    "American consultants hired by a Ukrainian party": (
        {"foreign-campaigning"},
        "Ukrainian party hires American consultants for parliamentary election",
        "A Ukrainian opposition party has hired American political consultants to run its campaign for"
        " next month's parliamentary election.\nThe consultants, veterans of two US presidential"
        " campaigns, are writing the party's television advertising and training its candidates.\n"
        "Critics said the American strategists were shaping a Ukrainian election from abroad.",
    ),
    # Foreign money in a campaign.
    "Qatari donations to a Belgian party": (
        {"foreign-campaigning"},
        "Belgian party accused of taking Qatari donations before election",
        "Prosecutors said a Belgian party received donations from a Qatari businessman during the"
        " regional election campaign.\nBelgian law bans donations from foreign donors to any party"
        " campaign.\nInvestigators said the Qatari money was funnelled through two consultancy companies"
        " before the vote.\nThe party denied receiving foreign money.",
    ),
    # Hard negatives: the same words, not the topic.
    "a French president backing a candidate at home": (
        set(),
        "French president backs party candidate in Paris mayoral election",
        "The French president endorsed his party's candidate for the Paris mayoral election on Monday."
        "\nThe president said the candidate would make a great mayor for France's capital.\nOpinion polls"
        " put the French president's party third in Paris.\nThe election will be held in March.",
    ),
    "election observers": (
        set(),
        "Observers praise conduct of Moldova's parliamentary election",
        "International observers from the OSCE said Moldova's parliamentary election was well run,"
        " though voters faced long queues.\nA delegation of American and German observers visited"
        " polling stations in Chisinau.\nThe observers said the election commission had counted the votes"
        " quickly and transparently.",
    ),
    "technical election aid": (
        set(),
        "Japan funds new ballot boxes for Nepal's election",
        "Japan will provide new ballot boxes and voter registration equipment for Nepal's general"
        " election, the Japanese embassy said.\nThe aid package includes training for Nepal's election"
        " commission staff.\nJapanese officials said the support for Nepal's electoral authority"
        " continued a programme begun in 2008.",
    ),
    "election equipment donated by another country": (
        set(),
        "Japan donates ballot boxes for Nepal's election",
        "Japan donated 20,000 ballot boxes to Nepal's election commission ahead of the general election,"
        " the Japanese embassy said.\nThe donation also covers training for Nepalese polling staff.\n"
        "Japan has donated election equipment to Nepal since 2008.",
    ),
    "a candidate fundraising among expatriates": (
        set(),
        "Nigerian candidate courts diaspora donors in London and Houston",
        "A Nigerian presidential candidate held fundraising dinners for Nigerians living in Britain and"
        " the United States this week.\nHis campaign said donations from the diaspora would pay for"
        " rallies in Lagos before the election.\nNigerian expatriates have become important donors for"
        " candidates of every party.",
    ),
    "a foreign-born campaign manager and strategy": (
        set(),
        "Canadian-born campaign manager bets on suburbs in Ohio Senate race",
        "The Democratic campaign manager, a Canadian-born strategist who moved to Ohio a decade ago, said"
        " the Senate race would be won in the suburbs.\nThe campaign will spend most of its money on"
        " television advertising in Columbus and Cincinnati.\nVoters in the suburbs swung towards the"
        " party in the last election.",
    ),
    "a US president endorsing a British candidate": (
        {"foreign-campaigning"},
        "Trump endorses Farage ahead of UK general election",
        "US President Donald Trump endorsed Nigel Farage ahead of Britain's general election, saying he"
        " would make a great prime minister.\nFarage's rivals said the American president was interfering"
        " in a British election.\nDowning Street said voters in the UK would decide.",
    ),
    "a president congratulating a foreign election's winner": (
        set(),
        "US president congratulates winner of Brazil's election",
        "The US president congratulated the winner of Brazil's presidential election on Monday.\nThe"
        " American president said he backed the Brazilian people's choice and looked forward to"
        " working with the new president.\nThe White House said the election had been free and fair.",
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
