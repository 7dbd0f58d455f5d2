"""The shape of the demo company, ВкусДом (VkusDom): an online grocer.

A fixed tree of divisions and departments (codes such as ``support.line1``) whose leaf
departments share out the headcount; large leaves split into teams (call-centre groups,
warehouse shifts, courier groups, pickup points, dark stores), so the tree grows sensibly from
300 to 20,000 people while its upper levels stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COMPANY_EN, COMPANY_RU = "VkusDom", "ВкусДом"
EMAIL_DOMAIN = "vkusdom.example"  # a reserved domain: demo mail can never reach anyone


@dataclass(frozen=True)
class Profile:
    """What kind of work a leaf department does, and so who works there and for how long."""

    staff: tuple[str, str]  # position (en, ru)
    lead: tuple[str, str]  # team lead position (en, ru), when the department splits into teams
    team_size: int = 0  # 0: never split into teams
    team_kind: str = "team"  # code suffix of its teams
    team_names: tuple[str, str] = ("Team {n}", "Группа {n}")  # {n}: number, {name_en}/{name_ru}: place
    turnover: float = 0.15  # people leaving per person-year
    male: float = 0.5
    email: float = 1.0  # share of staff with a work e-mail address
    english: float = 0.0  # share of English-speaking staff
    staff_role: str = "employee"


PROFILES: dict[str, Profile] = {
    "office": Profile(("Executive assistant", "Помощник руководителя"), ("", ""), male=0.2, turnover=0.1),
    "call": Profile(("Contact centre agent", "Оператор контакт-центра"), ("Team lead", "Руководитель группы"),
                    team_size=12, team_names=("Call centre, group {n}", "Колл-центр, группа {n}"),
                    turnover=0.5, male=0.3, english=0.02),
    "chat": Profile(("Chat support agent", "Специалист поддержки в чате"), ("Team lead", "Руководитель группы"),
                    team_size=12, team_names=("Chat, group {n}", "Чат, группа {n}"), turnover=0.45, male=0.35),
    "email": Profile(("Written support specialist", "Специалист по письменным обращениям"),
                     ("Team lead", "Руководитель группы"), team_size=12,
                     team_names=("Email, group {n}", "Письменные обращения, группа {n}"),
                     turnover=0.3, male=0.3, english=0.15),
    "line2": Profile(("Senior support specialist", "Старший специалист поддержки"), ("Team lead", "Руководитель группы"),
                     team_size=10, team_names=("Escalations, group {n}", "Эскалации, группа {n}"),
                     turnover=0.2, male=0.45),
    "support_quality": Profile(("Quality analyst", "Специалист по контролю качества"), ("", ""), turnover=0.15, male=0.3),
    "dispatch": Profile(("Dispatcher", "Диспетчер"), ("Senior dispatcher", "Старший диспетчер"), team_size=12,
                        team_kind="shift", team_names=("Dispatch, shift {n}", "Диспетчерская, смена {n}"),
                        turnover=0.3, male=0.5),
    "courier": Profile(("Courier", "Курьер"), ("Senior courier", "Старший курьер"), team_size=15,
                       team_kind="group", team_names=("{zone_en} zone, courier group {n}", "Зона «{zone_ru}», группа курьеров {n}"),
                       turnover=0.7, male=0.9, email=0.1),
    "picker": Profile(("Picker", "Комплектовщик"), ("Shift supervisor", "Начальник смены"), team_size=15,
                      team_kind="shift", team_names=("Picking, shift {n}", "Комплектация, смена {n}"),
                      turnover=0.6, male=0.6, email=0.15),
    "receiving": Profile(("Receiving clerk", "Кладовщик-приёмщик"), ("Shift supervisor", "Начальник смены"),
                         team_size=15, team_kind="shift", team_names=("Receiving, shift {n}", "Приёмка, смена {n}"),
                         turnover=0.4, male=0.7, email=0.3),
    "inventory": Profile(("Inventory controller", "Специалист по учёту запасов"), ("", ""), turnover=0.2, male=0.5),
    "pickup": Profile(("Pickup point operator", "Оператор пункта выдачи"), ("Pickup point manager", "Управляющий пунктом выдачи"),
                      team_size=6, team_kind="point",
                      team_names=("Pickup point {place_en}", "Пункт выдачи «{place_ru}»"),
                      turnover=0.45, male=0.3, email=0.5),
    "darkstore": Profile(("Dark store assistant", "Сотрудник даркстора"), ("Dark store manager", "Директор даркстора"),
                         team_size=12, team_kind="store",
                         team_names=("Dark store {place_en}", "Даркстор «{place_ru}»"),
                         turnover=0.5, male=0.55, email=0.3),
    "developer": Profile(("Software engineer", "Инженер-программист"), ("Engineering manager", "Руководитель команды разработки"),
                         team_size=8, team_names=("Team {product_en}", "Команда «{product_ru}»"),
                         turnover=0.12, male=0.75, english=0.25),
    "infra": Profile(("Systems engineer", "Системный инженер"), ("", ""), turnover=0.1, male=0.85, english=0.1),
    "helpdesk": Profile(("Service desk engineer", "Инженер техподдержки"), ("", ""), turnover=0.25, male=0.7),
    "recruiter": Profile(("Recruiter", "Специалист по подбору"), ("", ""), turnover=0.2, male=0.15),
    "trainer": Profile(("Trainer", "Бизнес-тренер"), ("", ""), turnover=0.15, male=0.3),
    "hr_admin": Profile(("HR specialist", "Специалист по кадрам"), ("", ""), turnover=0.12, male=0.1, staff_role="hr"),
    "accountant": Profile(("Accountant", "Бухгалтер"), ("", ""), turnover=0.1, male=0.15),
    "analyst": Profile(("Financial analyst", "Финансовый аналитик"), ("", ""), turnover=0.12, male=0.5, english=0.1),
    "crm": Profile(("CRM specialist", "Специалист по CRM-маркетингу"), ("", ""), turnover=0.2, male=0.35, english=0.05),
    "brand": Profile(("Brand manager", "Бренд-менеджер"), ("", ""), turnover=0.2, male=0.3, english=0.1),
    "buyer": Profile(("Category buyer", "Менеджер по закупкам"), ("", ""), turnover=0.15, male=0.45),
    "lab": Profile(("Laboratory technician", "Лаборант"), ("", ""), turnover=0.12, male=0.2),
    "qc": Profile(("Quality inspector", "Инспектор по качеству"), ("", ""), turnover=0.12, male=0.5),
}


@dataclass(frozen=True)
class Node:
    code: str
    name_en: str
    name_ru: str
    head: tuple[str, str]  # the head's position (en, ru)
    share: float = 0.0  # leaves: share of the headcount
    profile: str = ""  # leaves: what kind of work
    children: tuple[Node, ...] = field(default=())
    zone: tuple[str, str] = ("", "")  # courier zones: the zone's name for team names


def _leaf(code, en, ru, head, share, profile, zone=("", "")) -> Node:
    return Node(code, en, ru, head, share=share, profile=profile, zone=zone)


def _zone(suffix: str, en: str, ru: str, share: float) -> Node:
    return _leaf(f"delivery.{suffix}", f"Couriers, {en} zone", f"Курьеры, зона «{ru}»",
                 ("Zone manager", "Руководитель зоны доставки"), share, "courier", zone=(en, ru))


TREE = Node("company", COMPANY_EN, COMPANY_RU, ("Chief executive officer", "Генеральный директор"), children=(
    _leaf("office", "Executive office", "Дирекция", ("Chief of staff", "Руководитель аппарата"), 0.004, "office"),
    Node("support", "Customer support", "Служба поддержки клиентов",
         ("Customer support director", "Директор по клиентскому сервису"), children=(
        _leaf("support.line1", "Call centre", "Колл-центр (первая линия)",
              ("Head of call centre", "Руководитель колл-центра"), 0.14, "call"),
        _leaf("support.chat", "Chat and messengers", "Чат и мессенджеры",
              ("Head of chat support", "Руководитель поддержки в чатах"), 0.06, "chat"),
        _leaf("support.email", "Email support", "Письменные обращения",
              ("Head of written support", "Руководитель отдела письменных обращений"), 0.025, "email"),
        _leaf("support.line2", "Second line", "Вторая линия",
              ("Head of second line", "Руководитель второй линии"), 0.02, "line2"),
        _leaf("support.quality", "Quality and training", "Контроль качества и обучение",
              ("Head of support quality", "Руководитель контроля качества"), 0.008, "support_quality"),
    )),
    Node("delivery", "Delivery", "Доставка", ("Delivery director", "Директор по доставке"), children=(
        _leaf("delivery.dispatch", "Dispatch", "Диспетчерская служба",
              ("Head of dispatch", "Руководитель диспетчерской службы"), 0.015, "dispatch"),
        _zone("north", "North", "Север", 0.045),
        _zone("south", "South", "Юг", 0.045),
        _zone("east", "East", "Восток", 0.04),
        _zone("west", "West", "Запад", 0.04),
        _zone("centre", "Centre", "Центр", 0.05),
    )),
    Node("warehouse", "Warehouse", "Склад", ("Warehouse director", "Директор склада"), children=(
        _leaf("warehouse.picking", "Order picking", "Комплектация заказов",
              ("Head of picking", "Начальник участка комплектации"), 0.14, "picker"),
        _leaf("warehouse.receiving", "Receiving", "Приёмка товара",
              ("Head of receiving", "Начальник участка приёмки"), 0.035, "receiving"),
        _leaf("warehouse.inventory", "Inventory control", "Учёт запасов",
              ("Head of inventory control", "Руководитель группы учёта"), 0.012, "inventory"),
    )),
    Node("stores", "Stores and pickup points", "Магазины и пункты выдачи",
         ("Retail director", "Директор розничной сети"), children=(
        _leaf("stores.pickup", "Pickup points", "Пункты выдачи",
              ("Head of pickup points", "Руководитель сети пунктов выдачи"), 0.06, "pickup"),
        _leaf("stores.dark", "Dark stores", "Дарксторы",
              ("Head of dark stores", "Руководитель сети дарксторов"), 0.07, "darkstore"),
    )),
    Node("it", "IT", "Информационные технологии", ("Chief technology officer", "Технический директор"), children=(
        _leaf("it.dev", "Software development", "Разработка",
              ("Head of development", "Руководитель разработки"), 0.03, "developer"),
        _leaf("it.infra", "Infrastructure", "Инфраструктура",
              ("Head of infrastructure", "Руководитель инфраструктуры"), 0.008, "infra"),
        _leaf("it.servicedesk", "Service desk", "Техническая поддержка сотрудников",
              ("Service desk manager", "Руководитель техподдержки"), 0.006, "helpdesk"),
    )),
    Node("hr", "People and culture", "Управление персоналом", ("HR director", "Директор по персоналу"), children=(
        _leaf("hr.recruiting", "Recruiting", "Подбор персонала",
              ("Head of recruiting", "Руководитель отдела подбора"), 0.01, "recruiter"),
        _leaf("hr.training", "Learning and development", "Обучение и развитие",
              ("Head of learning", "Руководитель отдела обучения"), 0.005, "trainer"),
        _leaf("hr.records", "HR administration", "Кадровое администрирование",
              ("Head of HR administration", "Начальник отдела кадров"), 0.005, "hr_admin"),
    )),
    Node("finance", "Finance", "Финансы", ("Chief financial officer", "Финансовый директор"), children=(
        _leaf("finance.accounting", "Accounting", "Бухгалтерия",
              ("Chief accountant", "Главный бухгалтер"), 0.01, "accountant"),
        _leaf("finance.planning", "Planning and analysis", "Планирование и анализ",
              ("Head of planning", "Руководитель финансового планирования"), 0.004, "analyst"),
    )),
    Node("marketing", "Marketing", "Маркетинг", ("Marketing director", "Директор по маркетингу"), children=(
        _leaf("marketing.crm", "CRM and loyalty", "CRM и программа лояльности",
              ("Head of CRM", "Руководитель CRM-маркетинга"), 0.005, "crm"),
        _leaf("marketing.brand", "Brand and communications", "Бренд и коммуникации",
              ("Head of brand", "Руководитель отдела бренда"), 0.005, "brand"),
    )),
    Node("procurement", "Procurement", "Закупки", ("Procurement director", "Директор по закупкам"), children=(
        _leaf("procurement.fresh", "Fresh produce", "Свежие продукты",
              ("Head of fresh produce", "Руководитель категории «Свежие продукты»"), 0.006, "buyer"),
        _leaf("procurement.grocery", "Grocery and household", "Бакалея и бытовые товары",
              ("Head of grocery", "Руководитель категории «Бакалея»"), 0.006, "buyer"),
    )),
    Node("quality", "Quality control", "Контроль качества", ("Head of quality", "Руководитель службы качества"), children=(
        _leaf("quality.lab", "Laboratory", "Лаборатория", ("Head of laboratory", "Заведующий лабораторией"), 0.004, "lab"),
        _leaf("quality.audit", "Supplier audits", "Аудит поставщиков",
              ("Head of supplier audits", "Руководитель аудита поставщиков"), 0.003, "qc"),
    )),
))

# Places for pickup points and dark stores: districts of Moscow and nearby towns.
PLACES = (
    ("Khamovniki", "Хамовники"), ("Arbat", "Арбат"), ("Sokolniki", "Сокольники"), ("Maryino", "Марьино"),
    ("Butovo", "Бутово"), ("Khimki", "Химки"), ("Mytishchi", "Мытищи"), ("Lyubertsy", "Люберцы"),
    ("Tushino", "Тушино"), ("Izmaylovo", "Измайлово"), ("Tsaritsyno", "Царицыно"), ("Strogino", "Строгино"),
    ("Otradnoye", "Отрадное"), ("Medvedkovo", "Медведково"), ("Lefortovo", "Лефортово"), ("Presnya", "Пресня"),
    ("Yasenevo", "Ясенево"), ("Kuntsevo", "Кунцево"), ("Balashikha", "Балашиха"), ("Korolyov", "Королёв"),
    ("Krasnogorsk", "Красногорск"), ("Podolsk", "Подольск"), ("Zelenograd", "Зеленоград"), ("Reutov", "Реутов"),
)
PRODUCTS = (
    ("Catalogue", "Каталог"), ("Checkout", "Оформление заказа"), ("Courier app", "Приложение курьера"),
    ("Warehouse systems", "Складские системы"), ("Data platform", "Платформа данных"),
    ("Mobile apps", "Мобильные приложения"), ("Search", "Поиск"), ("Payments", "Платежи"),
    ("Support tools", "Инструменты поддержки"), ("Loyalty", "Лояльность"),
)


def team_name(profile: Profile, node: Node, index: int) -> tuple[str, str]:
    """The (en, ru) name of a leaf's team number ``index`` (from 1)."""
    def pick(items: tuple[tuple[str, str], ...]) -> tuple[str, str]:
        en, ru = items[(index - 1) % len(items)]
        lap = (index - 1) // len(items)
        return (en, ru) if lap == 0 else (f"{en} {lap + 1}", f"{ru} {lap + 1}")

    place_en, place_ru = pick(PLACES)
    product_en, product_ru = pick(PRODUCTS)
    values = {"n": index, "zone_en": node.zone[0], "zone_ru": node.zone[1], "place_en": place_en,
              "place_ru": place_ru, "product_en": product_en, "product_ru": product_ru}
    return profile.team_names[0].format(**values), profile.team_names[1].format(**values)
