"""Tumour size and node counts, read with their spans, and the AJCC rules built on them."""

import pytest

from cancerllm.classify.measures import find_measures, measure_vector, rule_n, rule_t


def test_measures_tumour_size_beats_specimen_size():
    text = "Specimen: mastectomy, 25 x 20 x 5 cm. Tumor size: 2.6 x 1.9 x 1.0 cm."
    m = find_measures(text)
    assert m.size_cm == 2.6
    assert text[m.size_span[0]:m.size_span[1]] == "2.6 x 1.9 x 1.0 cm"


def test_measures_size_in_mm_and_no_size():
    assert find_measures("Invasive carcinoma measuring 18 mm in greatest dimension.").size_cm == 1.8
    m = find_measures("Benign breast tissue, no tumor identified.")
    assert m.size_cm is None and m.size_span is None
    assert measure_vector(m)[:2] == [-1.0, 0.0]


def test_measures_node_counts_sum_over_groups_and_skip_impossible():
    text = "Metastatic carcinoma in 2 of 14 lymph nodes. Sentinel lymph node (0/3). Nodes 5/2 (typo)."
    m = find_measures(text)
    assert (m.nodes_positive, m.nodes_examined) == (2, 17)
    assert [text[s:e] for s, e in m.node_spans] == ["2 of 14", "0/3"]


def test_measures_rules_follow_ajcc_tables():
    assert [rule_t("BRCA", s) for s in (1.5, 2.0, 2.1, 5.1)] == [1, 1, 2, 3]
    assert rule_t("KIRC", 7.5) == 2 and rule_t("PRAD", 3.0) == 0
    assert [rule_n("BRCA", p) for p in (0, 3, 4, 10)] == [1, 2, 3, 4]
    assert rule_n("BRCA", None) == 0


def test_extent_terms_read_presence_and_stated_absence():
    from cancerllm.classify.measures import EXTENT_NAMES, extent_vector

    v = dict(zip(EXTENT_NAMES, extent_vector(
        "Adenocarcinoma invades through the muscularis propria into pericolonic fat. Serosa uninvolved by tumor? "
        "No perineural invasion. Lymphovascular invasion present. Margins free of tumor; no lymphovascular "
        "invasion in the second block."), strict=True))
    assert v["extent_muscularis_propria"] == 1.0 and v["extent_perivisceral_fat"] == 1.0
    assert v["extent_perineural"] == -1.0  # every mention negated
    assert v["extent_lymphovascular"] == 1.0  # one mention present is enough
    assert v["extent_seminal_vesicle"] == 0.0


def test_extent_features_need_the_measures_block():
    from cancerllm.classify.recipe import ClassifyConfig

    assert any("extent" in p for p in ClassifyConfig(features=["lexical", "extent"]).validate())
    assert not ClassifyConfig(features=["lexical", "measures", "extent"]).validate()


@pytest.mark.parametrize("text", [
    "Tumor mass located 2.0 cm from the posterior margin; invasive carcinoma, 3.4 cm.",
    "Tumor measuring 0.6cm from the closest inked margin. Tumor size: 3.4 cm.",
    "Carcinoma is present to within 1.5 cm. of the inked deep margin. Greatest dimension of tumor 3.4 cm.",
    "SPECIMEN SIZE: Greatest dimension: 26 cm. Tumor size: 3.4 cm.",
    "One lymph node with metastatic carcinoma, the metastatic focus measures 6 mm. Tumor size: 3.4 cm.",
])
def test_measures_size_skips_distances_specimen_and_nodal_deposits(text):
    # Each report's first size-like phrase is a margin distance, the specimen or a nodal deposit: the tumour is 3.4 cm.
    m = find_measures(text)
    assert m.size_cm == 3.4
    assert text[m.size_span[0]:m.size_span[1]] == "3.4 cm"


@pytest.mark.parametrize(("text", "size", "span"), [
    ("Invasive ductal carcinoma with an intraductal component (tumor diameter: 5.0 cm).", 5.0, "5.0 cm"),
    ("Medullary carcinoma forming a 4.5 x 2.0 x 2.0 cm well. circumscribed mass.", 4.5, "4.5 x 2.0 x 2.0 cm"),
    ("Nottingham grade I (of III). forming two separate masses, 5.3 x 2.7 x 1.4 cm and 1.2 x 1.0 cm.", 5.3,
     "5.3 x 2.7 x 1.4 cm"),
    ("Tumour. sized 2. x 2 x 2 cm found in the lower outer quadrant.", 2.0, "2. x 2 x 2 cm"),
    ("On cut section there is a 1.8 by 1.5. by 1.1 cm firm mass.", 1.8, "1.8 by 1.5. by 1.1 cm"),
    ("Clinical history: female with 4.5 cm right breast mass.", 4.5, "4.5 cm"),
    ("SIZE OF INVASIVE COMPONENT: Greatest dimension. 2.8 cm. HISTOLOGIC TYPE: ductal.", 2.8, "2.8 cm"),
    ("A gray-tan firm mass. This mass measures 2.8. x. 2.5 x 2.3 cm and extends to the margin.", 2.8,
     "2.8. x. 2.5 x 2.3 cm"),
    ("Multifocality: No. Specimen size: Size of Invasive focus 3.7cm. Additional dimensions: 3.5cm.", 3.7, "3.7cm"),
    ("Ductal carcinoma measuring up to 4.4 cm.", 4.4, "4.4 cm"),
])
def test_measures_size_read_from_the_wordings_of_real_reports(text, size, span):
    # Wordings of TCGA reports the first size reader missed (no "tumor size" / "measuring" cue, "by", OCR periods).
    m = find_measures(text)
    assert m.size_cm == size
    assert text[m.size_span[0]:m.size_span[1]] == span


@pytest.mark.parametrize(("text", "size"), [
    ("Lobar LN (station 12) lingula: 1.6 cm lesioned grayish-black node.", None),
    ("A single right axillary lymph node is positive. for micrometastatic (1 mm) carcinoma.", None),
    ("Representative sections of largest 2.7 cm node (grossly suspicious for tumor).", None),
    ("ONE LYMPH NODE COMPLETELY REPLACED BY METASTATIC CARCINOMA. MEASURING 1.5 CM. Tumor size: 2.7 cm.", 2.7),
    ("SPECIMEN SIZE. Greatest dimensions: 10.5 x 9.5 x 4.5. cm. TUMOR SIZE: Greatest dimension 2.4 cm.", 2.4),
    # The AJCC definitions a synoptic report prints are bounds, not the tumour's size.
    ("PRIMARY TUMOR (PT) : [TNM]: Tumor more than 2.0 cm but not more. than 5.0 cm in greatest dimension.", None),
    ("Primary Tumor (pT): Tumor > 7 cm. Tumor Size: Greatest dimension: 5.5 cm.", 5.5),
    ("Tumor size: greater than 5.0 cm.", None),
    ("Greatest dimension. The upper lobe measures 18.5 x 12.5 x 5 cm.", None),
])
def test_measures_size_is_not_a_node_or_the_specimen(text, size):
    assert find_measures(text).size_cm == size


def test_synoptic_absence_after_the_term_and_subserosa_are_not_stated_extension():
    from cancerllm.classify.measures import EXTENT_NAMES, extent_vector

    v = dict(zip(EXTENT_NAMES, extent_vector(
        "Tumor invades into the subserosa. Extraprostatic extension (EPE): Not identified. "
        "Visceral pleura invasion: absent."), strict=True))
    assert v["extent_serosa"] == 0.0  # "subserosa" is not the serosa (T3, not T4, in the colon)
    assert v["extent_extraprostatic"] == -1.0 and v["extent_visceral_pleura"] == -1.0


def test_extent_rule_reads_how_far_the_tumour_reaches_per_cancer_type():
    from cancerllm.classify.measures import EXTENT_NAMES, reached_terms, reached_vector, rule_extent_t

    text = ("Tumor invades through the muscularis propria into pericolonic adipose tissue. There is no. serosal "
            "involvement. Mediastinal lymph nodes, station 7: no tumor. Visceral pleural invasion: present.")
    reached = reached_terms(text)
    assert set(reached) == {"muscularis_propria", "perivisceral_fat", "visceral_pleura"}
    s, e = reached["perivisceral_fat"]
    assert text[s:e] == "pericolonic"  # the span a label inferred from it can point at
    flags = reached_vector(text)
    assert rule_extent_t("COAD", flags) == 3  # deepest reached layer; the serosa was negated across a line break
    assert rule_extent_t("LUAD", flags) == 2  # visceral pleura; the nodal station is not the mediastinum (T4)
    assert rule_extent_t("BRCA", flags) == 0  # no extension rule for the breast
    assert rule_extent_t("PRAD", [0.0] * len(EXTENT_NAMES)) == 2  # a resected prostate carcinoma is at least T2


@pytest.mark.parametrize(("text", "reached"), [
    # an extension phrase states the reach, whatever words surround it
    ("Capsule: Established extracapsular extension.", True),
    ("Extraprostatic extension: Very focal in left posterior mid region.", True),
    ("- EXTRAPROSTATIC EXTENSIONS ARE PRESENT AT ANTERIOR AND MID BASE", True),
    ("- EXTENSIVE LYMPHOVASCULAR AND EXTRAPROSTATIC INVOLVEMENT", True),
    ("Focal extracapsular invasion is present in the left side.", True),
    ("TUMOR DEMONSTRATES EXTRA-PROSTATIC EXTENSION, UNILATERAL (LEFT SIDE)", True),
    ("Left rectolateral extraprostatic tumor growth with infiltration of the fatty tissue.", True),
    ("Extraprostatic (extracapsular) extension is established.", True),
    # negated, not assessed, an empty synoptic field, a heading alone, a lymph node's capsule
    ("Extraprostatic extension: Not identified.", False),
    ("3: EXTRACAPSULAR EXTENSION NOT IDENTIFIED", False),
    ("Extraprostatic Extension. Not identified. Margins. Negative.", False),
    ("- NO EXTRACAPSULAR EXTENSION PRESENT", False),
    ("Extraprostatic extension: cannot be assessed.", False),
    ("Extraprostatic extension: Seminal vesicle invasion: Margins:", False),
    ("SYNOPTIC REPORT\nEXTRA-PROSTATIC EXTENSION\nSEMINAL VESICAL INVASION\n", False),
    ("Metastatic carcinoma in 4 of 7 lymph nodes with extracapsular extension.", False),
])
def test_an_extension_phrase_says_the_tumour_reaches_the_structure(text, reached):
    from cancerllm.classify.measures import reached_terms

    found = reached_terms(text)
    assert ("extraprostatic" in found) is reached, found
    if reached:
        s, e = found["extraprostatic"]
        assert text[s:e].lower().replace("-", "").startswith(("extraprostatic", "extracapsular"))


@pytest.mark.parametrize(("text", "term", "reached"), [
    # the value of a synoptic extent field is the structure reached; a sub-field's name is not
    ("Histologic grade: Poorly differentiated. Tumor extent: Serosa (visceral peritoneum). Lymph nodes: 1/7.", "serosa",
     True),
    ("Extent of invasion: Muscularis propria. Margins: Not specified.", "muscularis_propria", True),
    ("Extent of invasion: Perirenal adipose tissue: Does not involve. Gerota's fascia: Does not involve.", "renal_fat",
     False),
    ("Macroscopic and Microscopic Extent of Tumor: Skin: Skin is not present.", "skin", False),
    # vascular invasion in the liver's wordings (T2), not lymphovascular invasion, and its negations
    ("Microscopic (Small Vessel) Invasion (L): Present", "major_vessel", True),
    ("Portal vein invasion: yes. Hepatic vein invasion: no.", "major_vessel", True),
    ("Portal vein invasion: no. Microvessel invasion: Absent.", "major_vessel", False),
    ("VASCULAR INVASION?: No. Vascular invasion is not. identified.", "major_vessel", False),
    ("LYMPHATIC/VASCULAR INVASION: PRESENT. LYMPH-VASCULAR INVASION: Present.", "major_vessel", False),
    ("LYMPH-VASCULAR INVASION: Present.", "lymphovascular", True),
    ("Hepatocellular carcinoma. Tumor focality: Multiple.", "separate_nodules", True),
])
def test_extent_fields_and_vessel_wordings_are_read(text, term, reached):
    from cancerllm.classify.measures import reached_terms

    assert (term in reached_terms(text)) is reached, reached_terms(text)


def test_an_extension_phrase_reads_any_structure_but_not_a_measurement_or_lymphovascular_as_a_vessel():
    from cancerllm.classify.measures import reached_terms

    found = reached_terms("D. LYMPHOVASCULAR INVASION IS PRESENT. Perineural invasion: focal. Depth of invasion: 4 mm. "
                          "Lymphatic invasion: Not specified. Seminal vesicle invasion: Left: Not identified.")
    assert set(found) == {"lymphovascular", "perineural"}  # no vessel (T2 in the liver), depth or seminal vesicle
    assert set(reached_terms("Vascular invasion is present. Lymphovascular invasion is not appreciated.")) == {
        "major_vessel"}


@pytest.mark.parametrize(("text", "span"), [
    ("A second focus of invasive ductal carcinoma measuring 0.9 cm is present. Tumor size: 2.1 x 2 x 1.2 cm.",
     "2.1 x 2 x 1.2 cm"),
    ("Mass measuring 2.0 cm. Greatest dimension (pT): The larger tumor measures 3.8 cm.", "3.8 cm"),
    ("At 6 o'clock invasive carcinoma measures 1.5 x 0.4 cm; at 9 o'clock carcinoma measures 3.5 x 3.0 cm.",
     "3.5 x 3.0 cm"),
    ("Tumor size: 2.5 cm. A satellite nodule measuring 2.5 cm.", "2.5 cm"),
])
def test_measures_size_is_the_largest_tumour_focus_named(text, span):
    # AJCC stages by the largest invasive focus; reports often name a smaller focus first. Of equal sizes the first
    # is kept (its span is the one the record points at).
    m = find_measures(text)
    assert text[m.size_span[0]:m.size_span[1]] == span
    assert m.size_span[0] == text.index(span)


@pytest.mark.parametrize(("text", "size", "span"), [
    # Fourth pass (wordings of TCGA train reports the reader misread). A template's bound ends the cue, the size
    # follows it.
    ("Greatest dimension of largest focus of invasion over 0.1 cm: 8.5 cm. Additional dimensions: 7.4 x 6 cm.",
     8.5, "8.5 cm"),
    ("Greatest dimension of largest focus of invasion >1 mm: 21 mm. Histologic Grade: 2.", 2.1, "21 mm"),
    # The specimen's size behind a parenthetical header, or named after the number.
    ("Specimen Size (for excisions less than total mastectomy). Greatest dimension: 9.0 cm. Tumor size: 2.2 cm.",
     2.2, "2.2 cm"),
    ("Invasive carcinoma is present in 6 of 11 slices of a 12.5 cm specimen. Tumor size: 3.5cm.", 3.5, "3.5cm"),
    (("A piece of tumor measuring approximately 3.0 x 1.0 cm is submitted to the tissue bank. Invasive carcinoma, "
      "2.5 cm."), 2.5, "2.5 cm"),
    # Distances: across an OCR period, or a direction right after the number.
    ("The lesion is 3.5 cm. from the inferior margin. Tumor size: 1.6 cm.", 1.6, "1.6 cm"),
    ("The small nodule is 2.2cm inferior to the areolar stitch. Tumor size: 1.8 cm.", 1.8, "1.8 cm"),
    # A nodal sentence split by a PDF line break after a function word.
    ("1 OF 1 LYMPH NODES INVOLVED BY. CARCINOMA, 4.0 CM IN GREATEST DIMENSION. TUMOR SIZE: 2.0 CM.", 2.0, "2.0 CM"),
    # Cues it had no word for: the largest focus, "max. diameter", an OCR period inside "tumor. diameter"; a comma
    # before "margin" ends the size, not a distance.
    ("Bifocal invasive ductal carcinoma. The larger focus is 1.1 cm in size and the smaller one 0.8 cm.", 1.1,
     "1.1 cm"),
    ("Invasive ductal carcinoma, G III. Largest tumor focus 2.6 cm. A second focus.", 2.6, "2.6 cm"),
    ("Invasive ductal carcinoma (max. diameter 2.2 cm, now also in some sections).", 2.2, "2.2 cm"),
    ("No ulceration of the skin (tumor. diameter 3 cm, minimum distance from dorsal resection margin 2.5 cm).", 3.0,
     "3 cm"),
    ("Carcinoma with necrosis (tumor diameter 3 cm, margin distances: cranial 0.6 cm, caudal 0.4 cm).", 3.0, "3 cm"),
    # Not over-reaching: a dimension named by two directions, "mid-portion of", a period before another sentence.
    ("The tumor is a large destructive lesion measuring 4.0 cm anterior to posterior, 3.1 cm wide.", 4.0, "4.0 cm"),
    ("Within the mid-portion of kidney is an 11.0 X 9.0 X 6.0 cm, lobulated, well-circumscribed mass.", 11.0,
     "11.0 X 9.0 X 6.0 cm"),
    ("Tumor size: 3.5 cm. Distance to nearest margin: 9 cm.", 3.5, "3.5 cm"),
    ("LEFT BREAST LUMP -. PORTION OF BREAST TISSUE WITH TUMOR (3.2 X 3.1 X 3.0 CM.) EXTENDING TO LATERAL MARGIN.", 3.2,
     "3.2 X 3.1 X 3.0 CM"),  # the portion of tissue the tumour lies in is named first: the size is still the tumour's
])
def test_measures_size_fourth_pass(text, size, span):
    m = find_measures(text)
    assert m.size_cm == size
    assert text[m.size_span[0]:m.size_span[1]] == span


@pytest.mark.parametrize("text", [
    "EXTENT OF EXTRANODAL TUMOR: 6 MM. MAXIMUM DIMENSION OF LARGEST DEPOSIT: 1.8 CM.",
    "Skin free of tumor. Size of biopsy: 10.5 x 7.7 x 4.0 cm.",  # a sentence ends after "tumor"
    "Micrometastases in 3 lymph nodes, the largest focus of which measures 5 mm.",
])
def test_a_nodal_deposit_or_the_biopsy_is_not_the_tumour(text):
    assert find_measures(text).size_cm is None
