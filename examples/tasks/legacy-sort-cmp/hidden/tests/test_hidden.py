from contacts import sort_contacts


def test_sorted_by_surname_then_first_name():
    people = [{"first": "Bo", "last": "Zed"}, {"first": "Cy", "last": "Ames"}, {"first": "Al", "last": "Ames"}]
    assert [p["first"] for p in sort_contacts(people)] == ["Al", "Cy", "Bo"]
