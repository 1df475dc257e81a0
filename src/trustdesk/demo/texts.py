"""What people write in the demo: subjects, first messages, replies and notes, in en, es and id.

English buyer first messages come from the Bitext customer-support utterances (``bitext.py``);
everything here is written for the demo. Templates use ``str.format`` fields filled per case:
``{first}`` (customer's first name), ``{agent}`` (agent's first name), ``{order}``, ``{amount}``,
``{days}``, ``{date}``, ``{item}``, ``{shop}``, ``{period}``, ``{n}``, ``{n2}``, ``{fee}``,
``{fee2}``, ``{diff}``, ``{title}``, ``{decision}``, ``{ticket}``, ``{digits}``, ``{ref}``,
``{area}``, ``{question}``, ``{tool}``, ``{level}``, ``{team}``.
"""

from __future__ import annotations

from dataclasses import dataclass

Texts = dict[str, str]  # language -> text
Variants = dict[str, tuple[str, ...]]  # language -> variants


@dataclass(frozen=True)
class BuyerIntent:
    """A Bitext intent as the demo uses it: how often it comes up and how it reads in es and id."""

    intent: str
    category: str
    weight: float  # share of buyer contacts (relative)
    subject: Texts
    utterances: Variants  # hand-written es and id first messages; en comes from Bitext
    solve_en: str

    @property
    def topic(self) -> str:
        return f"{self.category.lower()}.{self.intent}"

    @property
    def family(self) -> str:
        return self.category.lower()


def _bi(intent: str, category: str, weight: float, subject: tuple[str, str, str], es: tuple[str, ...],
        id_: tuple[str, ...], solve_en: str) -> BuyerIntent:
    return BuyerIntent(intent, category, weight, {"en": subject[0], "es": subject[1], "id": subject[2]},
                       {"es": es, "id": id_}, solve_en)


BUYER_INTENTS: tuple[BuyerIntent, ...] = (
    _bi("track_order", "ORDER", 12, ("Where is my order?", "¿Dónde está mi pedido?", "Di mana pesanan saya?"), (
        "Hola, compré unas zapatillas hace dos semanas y todavía no han llegado.",
        "El seguimiento de mi pedido no se actualiza desde hace cinco días.",
        "¿Podéis decirme dónde está mi pedido? Pone entregado pero no lo tengo.",
        "Mi pedido debía llegar el martes y sigue sin aparecer.",
    ), (
        "Halo, saya beli sepatu dua minggu lalu tapi belum sampai juga.",
        "Status pelacakan pesanan saya tidak berubah sejak lima hari.",
        "Tolong cek pesanan saya, statusnya terkirim tapi barangnya belum saya terima.",
        "Pesanan saya seharusnya tiba hari Selasa tapi sampai sekarang belum ada.",
    ), "I checked order {order}: the parcel is at the carrier's local depot and is scheduled for delivery within "
       "{days} working days. I've asked the carrier to prioritise it."),
    _bi("change_order", "ORDER", 5, ("Change my order", "Modificar mi pedido", "Ubah pesanan"), (
        "¿Puedo cambiar el color de un artículo de mi pedido?",
        "Quiero añadir otro producto a un pedido que ya he hecho.",
        "Necesito cambiar la talla antes de que envíen el pedido.",
    ), (
        "Bisa ganti warna barang di pesanan saya?",
        "Saya mau tambah barang ke pesanan yang sudah dibuat.",
        "Saya perlu ganti ukuran sebelum pesanan dikirim.",
    ), "I've asked the seller to update order {order} and they confirmed the change before dispatch. You'll see "
       "the updated order in your account shortly."),
    _bi("cancel_order", "ORDER", 5, ("Cancel my order", "Cancelar mi pedido", "Batalkan pesanan"), (
        "Quiero cancelar el pedido que hice esta mañana.",
        "Me equivoqué de talla, ¿puedo cancelar el pedido antes de que salga?",
        "Por favor, cancelad mi pedido, ya no lo necesito.",
    ), (
        "Saya mau batalkan pesanan yang tadi pagi.",
        "Saya salah pilih ukuran, bisa dibatalkan sebelum dikirim?",
        "Tolong batalkan pesanan saya, sudah tidak perlu.",
    ), "I've cancelled order {order} before it shipped. The refund of {amount} goes back to your original payment "
       "method within 3-5 working days."),
    _bi("place_order", "ORDER", 2, ("Problem placing an order", "Problema al hacer un pedido",
                                    "Tidak bisa membuat pesanan"), (
        "No consigo terminar la compra, el botón de pagar no hace nada.",
        "¿Cómo hago un pedido de varios vendedores a la vez?",
        "Quiero comprar pero me dice que el artículo no está disponible en mi zona.",
    ), (
        "Saya tidak bisa checkout, tombol bayar tidak berfungsi.",
        "Bagaimana cara pesan dari beberapa toko sekaligus?",
        "Mau beli tapi katanya barang tidak tersedia di daerah saya.",
    ), "There was a temporary problem with checkout for some items; it's fixed now. Please try again, and if it "
       "still fails, send me a screenshot of the message."),
    _bi("delivery_period", "DELIVERY", 6, ("Delivery time", "Plazo de entrega", "Estimasi waktu pengiriman"), (
        "¿Cuánto tarda en llegar un pedido a Sevilla?",
        "Mi pedido lleva una semana en camino, ¿es normal?",
        "¿Cuándo me llegará el pedido si lo hago hoy?",
    ), (
        "Berapa lama pengiriman ke Makassar?",
        "Pesanan saya sudah seminggu belum sampai, apa normal?",
        "Kalau pesan hari ini, kapan sampainya?",
    ), "Order {order} is with the carrier and the current estimate is delivery within {days} working days. "
       "You'll get a notification as soon as it's out for delivery."),
    _bi("delivery_options", "DELIVERY", 3, ("Delivery options", "Opciones de envío", "Pilihan pengiriman"), (
        "¿Qué opciones de envío tenéis para Canarias?",
        "¿Se puede elegir entrega urgente en 24 horas?",
        "¿Puedo recoger el pedido en un punto de recogida?",
    ), (
        "Pilihan pengiriman apa saja yang tersedia ke luar Jawa?",
        "Bisa pilih pengiriman di hari yang sama?",
        "Apakah bisa ambil pesanan di gerai terdekat?",
    ), "For your address we offer standard delivery (3-5 working days), express (1-2 working days) and pickup "
       "points. The options show at checkout once the address is entered."),
    _bi("change_shipping_address", "SHIPPING", 3, ("Change delivery address", "Cambiar la dirección de entrega",
                                                   "Ubah alamat pengiriman"), (
        "Me he mudado, ¿puedo cambiar la dirección de un pedido en curso?",
        "Puse mal el número del portal en la dirección de envío.",
        "Quiero que el pedido llegue a mi oficina en vez de a casa.",
    ), (
        "Saya pindah rumah, bisa ganti alamat untuk pesanan yang sedang diproses?",
        "Nomor rumah di alamat pengiriman salah tulis.",
        "Saya mau pesanan dikirim ke kantor, bukan ke rumah.",
    ), "I've updated the delivery address on order {order} before it shipped. You'll see the new address on the "
       "order page."),
    _bi("set_up_shipping_address", "SHIPPING", 1.5, ("Add a delivery address", "Añadir una dirección de envío",
                                                     "Tambah alamat pengiriman"), (
        "¿Cómo guardo una nueva dirección de envío en mi cuenta?",
        "No me deja añadir una segunda dirección.",
        "Quiero poner la dirección de mi trabajo como predeterminada.",
    ), (
        "Bagaimana cara menyimpan alamat pengiriman baru?",
        "Tidak bisa menambah alamat kedua.",
        "Saya mau jadikan alamat kantor sebagai alamat utama.",
    ), "You can add addresses under Profile > Addresses > Add address and pick one as the default. Your account "
       "has room for up to ten."),
    _bi("get_refund", "REFUND", 9, ("Refund request", "Solicitud de reembolso", "Permintaan refund"), (
        "Devolví el producto hace dos semanas y no he recibido el reembolso.",
        "Quiero que me devolváis el dinero, el artículo no era como en la foto.",
        "El vendedor aceptó la devolución pero sigo sin mi dinero.",
        "Me llegó un producto defectuoso y quiero el reembolso completo.",
    ), (
        "Saya sudah kembalikan barang dua minggu lalu tapi dananya belum kembali.",
        "Saya minta refund, barangnya tidak sesuai foto.",
        "Penjual sudah setuju retur tapi uang saya belum dikembalikan.",
        "Barang yang saya terima cacat, saya minta refund penuh.",
    ), "I've approved a refund of {amount} for order {order}. It goes back to your original payment method and "
       "usually shows within 3-5 working days."),
    _bi("track_refund", "REFUND", 5, ("Refund status", "Estado del reembolso", "Status refund"), (
        "¿En qué estado está mi reembolso?",
        "Me dijisteis que el reembolso tardaría 5 días y ya van 10.",
        "¿Cuándo veré el reembolso en mi tarjeta?",
    ), (
        "Bagaimana status refund saya?",
        "Katanya refund 5 hari kerja, sekarang sudah 10 hari.",
        "Kapan refund masuk ke kartu saya?",
    ), "Your refund of {amount} for order {order} was processed on our side; banks usually take 3-5 working days "
       "to show it. The refund reference is on the order page."),
    _bi("check_refund_policy", "REFUND", 3, ("Refund policy", "Política de devoluciones",
                                             "Kebijakan pengembalian dana"), (
        "¿Cuántos días tengo para devolver un producto?",
        "¿Me devolvéis también los gastos de envío?",
        "¿Cuál es vuestra política de reembolsos para productos usados?",
    ), (
        "Berapa hari batas waktu untuk mengembalikan barang?",
        "Apakah ongkir juga dikembalikan?",
        "Bagaimana kebijakan refund untuk barang bekas?",
    ), "You can return most items within 30 days of delivery. The refund includes the original shipping cost when "
       "the item is faulty or not as described."),
    _bi("payment_issue", "PAYMENT", 10, ("Payment problem", "Problema con el pago", "Masalah pembayaran"), (
        "Me habéis cobrado dos veces el mismo pedido.",
        "El pago se ha rechazado pero el dinero ha salido de mi cuenta.",
        "Intento pagar con tarjeta y me da error todo el rato.",
        "Me aparece un cargo que no reconozco en mi tarjeta.",
    ), (
        "Saya ditagih dua kali untuk pesanan yang sama.",
        "Pembayaran gagal tapi saldo saya sudah terpotong.",
        "Saya coba bayar pakai kartu tapi terus error.",
        "Ada tagihan di kartu saya yang tidak saya kenali.",
    ), "I've checked the payment on order {order}: the second charge was only an authorisation hold and it has "
       "been released. It will disappear from your statement within 3-5 working days."),
    _bi("check_payment_methods", "PAYMENT", 2, ("Payment methods", "Métodos de pago", "Metode pembayaran"), (
        "¿Aceptáis Bizum o PayPal?",
        "¿Se puede pagar a plazos?",
        "¿Qué tarjetas aceptáis para pagar?",
    ), (
        "Bisa bayar pakai dompet digital?",
        "Apakah bisa bayar cicilan?",
        "Kartu apa saja yang diterima untuk pembayaran?",
    ), "We accept the major credit and debit cards, PayPal and the local payment options shown at checkout. "
       "Instalments are offered on orders over {amount}."),
    _bi("get_invoice", "INVOICES", 3, ("Invoice request", "Solicitar factura", "Minta faktur"), (
        "Necesito una factura con mi NIF para el pedido que hice ayer.",
        "¿Me podéis enviar la factura de mi compra?",
        "Soy autónomo y necesito factura a nombre de mi empresa.",
    ), (
        "Saya butuh faktur pajak dengan NPWP untuk pesanan kemarin.",
        "Bisa kirimkan faktur pembelian saya?",
        "Saya perlu faktur atas nama perusahaan.",
    ), "I've generated the invoice for order {order} with your details and sent it to your e-mail. You can also "
       "download it from the order page."),
    _bi("check_invoices", "INVOICES", 2, ("Check my invoices", "Consultar mis facturas", "Cek faktur"), (
        "¿Dónde puedo ver las facturas de mis compras anteriores?",
        "No encuentro la factura del pedido del mes pasado.",
        "Necesito revisar mis facturas de este año.",
    ), (
        "Di mana saya bisa lihat faktur pembelian sebelumnya?",
        "Faktur pesanan bulan lalu tidak ketemu.",
        "Saya perlu cek semua faktur tahun ini.",
    ), "All your invoices are under Orders > Invoices, where you can download them as PDF. I've also e-mailed "
       "you the ones from the last three months."),
    _bi("recover_password", "ACCOUNT", 4, ("Reset my password", "Recuperar la contraseña", "Lupa kata sandi"), (
        "He olvidado mi contraseña y no me llega el correo para restablecerla.",
        "No puedo entrar en mi cuenta, ¿cómo recupero la contraseña?",
        "El enlace para cambiar la contraseña dice que ha caducado.",
    ), (
        "Saya lupa kata sandi dan email reset tidak masuk.",
        "Tidak bisa masuk ke akun, bagaimana cara memulihkan kata sandi?",
        "Link untuk ganti kata sandi katanya sudah kedaluwarsa.",
    ), "I've sent a fresh password-reset link to your e-mail; it is valid for 2 hours. If it doesn't arrive, "
       "please check your spam folder."),
    _bi("edit_account", "ACCOUNT", 1.5, ("Update my account details", "Modificar los datos de mi cuenta",
                                         "Ubah data akun"), (
        "Necesito cambiar el número de teléfono de mi cuenta.",
        "¿Dónde puedo modificar mi nombre y mi correo en el perfil?",
        "No me deja actualizar la dirección de correo de mi cuenta.",
    ), (
        "Saya perlu mengganti nomor HP di akun saya.",
        "Di mana saya bisa ubah nama dan email di profil?",
        "Email di akun saya tidak bisa diperbarui, kenapa ya?",
    ), "You can change your name, e-mail and phone number under Profile > Account details. I've updated the phone "
       "number for you as requested."),
    _bi("delete_account", "ACCOUNT", 2, ("Delete my account", "Eliminar mi cuenta", "Hapus akun"), (
        "Quiero eliminar mi cuenta y todos mis datos personales.",
        "¿Cómo cierro definitivamente mi cuenta?",
        "Ya no voy a usar la tienda, por favor borrad mi cuenta.",
    ), (
        "Saya ingin menghapus akun saya beserta data pribadi saya.",
        "Bagaimana cara menutup akun secara permanen?",
        "Tolong hapus akun saya, saya sudah tidak pakai lagi.",
    ), "I've submitted the deletion of your account. You'll receive a confirmation e-mail, and your personal data "
       "is removed within 30 days, except what we must keep for tax records."),
    _bi("create_account", "ACCOUNT", 1.5, ("Create an account", "Crear una cuenta", "Membuat akun"), (
        "Hola, quiero crear una cuenta pero no encuentro dónde registrarme.",
        "¿Cómo puedo abrir una cuenta nueva con mi correo?",
        "Intento registrarme desde la app y no me deja crear la cuenta, ¿qué hago?",
    ), (
        "Halo, saya mau buat akun baru tapi tidak tahu caranya.",
        "Bagaimana cara daftar akun pakai email saya?",
        "Saya coba daftar lewat aplikasi tapi akunnya tidak bisa dibuat, harus bagaimana?",
    ), "You can create an account from the app or the website: tap Sign up, enter your e-mail and confirm the code "
       "we send you. There's no existing account on your e-mail, so you're good to go."),
    _bi("registration_problems", "ACCOUNT", 1.5, ("Problem signing up", "Problema con el registro",
                                                  "Masalah pendaftaran"), (
        "Al registrarme me sale un error y no recibo el código de verificación.",
        "Dice que mi correo ya está registrado pero yo nunca he tenido cuenta.",
        "El formulario de registro no acepta mi número de teléfono.",
    ), (
        "Waktu daftar muncul error dan kode verifikasi tidak dikirim.",
        "Katanya email saya sudah terdaftar padahal saya belum pernah punya akun.",
        "Formulir pendaftaran tidak menerima nomor HP saya.",
    ), "Thanks for your patience. The verification code was being blocked by your e-mail provider; I've verified "
       "your address by hand, so you can now finish signing up."),
    _bi("switch_account", "ACCOUNT", 1, ("Switch accounts", "Cambiar de cuenta", "Ganti akun"), (
        "Tengo dos cuentas y quiero pasar a usar la otra, ¿cómo cambio?",
        "¿Cómo cierro sesión y entro con otra cuenta en la app?",
        "Quiero cambiar mi cuenta personal a una de empresa.",
    ), (
        "Saya punya dua akun dan mau pindah ke akun yang lain, caranya?",
        "Bagaimana keluar dan masuk dengan akun lain di aplikasi?",
        "Saya mau ganti akun pribadi jadi akun bisnis.",
    ), "To switch accounts, open Profile, tap your name at the top and choose Add or switch account. The accounts "
       "stay separate, including orders and saved addresses."),
    _bi("check_cancellation_fee", "CANCELLATION_FEE", 1.5, ("Cancellation fee", "Gastos de cancelación",
                                                            "Biaya pembatalan"), (
        "¿Cobráis algo si cancelo un pedido que ya he pagado?",
        "Me habéis cobrado una comisión por cancelar, ¿por qué?",
        "¿Cuánto cuesta cancelar un pedido que ya ha salido?",
    ), (
        "Apakah ada biaya kalau saya batalkan pesanan yang sudah dibayar?",
        "Kenapa saya kena biaya pembatalan?",
        "Berapa biayanya kalau pesanan yang sudah dikirim dibatalkan?",
    ), "Cancelling before the seller ships is free. Once an order has shipped it becomes a return, and return "
       "shipping may apply depending on the seller. Order {order} hasn't shipped, so there's no fee."),
    _bi("contact_customer_service", "CONTACT", 3, ("Contact customer service", "Contactar con atención al cliente",
                                                   "Hubungi layanan pelanggan"), (
        "¿Cuál es el horario de atención al cliente?",
        "Necesito hablar con atención al cliente sobre un pedido.",
        "¿Hay algún teléfono para contactar con vosotros?",
    ), (
        "Jam operasional layanan pelanggan kapan ya?",
        "Saya perlu bicara dengan CS soal pesanan saya.",
        "Ada nomor telepon yang bisa dihubungi?",
    ), "You've reached the right place: we answer here in the help center and in the in-app chat around the "
       "clock. Your order {order} is on track; tell me if there's anything else I can do."),
    _bi("contact_human_agent", "CONTACT", 3, ("Talk to a person", "Hablar con una persona",
                                              "Bicara dengan petugas"), (
        "Quiero hablar con una persona, no con el bot.",
        "¿Me puede atender un agente, por favor?",
        "El asistente no me entiende, pásame con alguien.",
    ), (
        "Saya mau bicara dengan orang, bukan bot.",
        "Bisa tolong sambungkan ke petugas?",
        "Asistennya tidak paham, tolong hubungkan ke CS.",
    ), "This is {agent} from the support team. I've read your conversation with the assistant and sorted it out: "
       "order {order} is confirmed and on its way."),
    _bi("complaint", "FEEDBACK", 4, ("Complaint", "Reclamación", "Keluhan"), (
        "Quiero poner una reclamación: el producto llegó roto y nadie me responde.",
        "Estoy muy descontento con el servicio, es la tercera vez que escribo.",
        "El vendedor me ha tratado fatal y quiero quejarme.",
    ), (
        "Saya mau komplain, barangnya datang rusak dan tidak ada yang merespons.",
        "Saya sangat kecewa dengan layanannya, ini sudah ketiga kalinya saya menghubungi.",
        "Penjualnya tidak sopan, saya mau ajukan keluhan.",
    ), "I'm sorry about this experience. I've logged your complaint against order {order}, and I've added a "
       "{amount} credit to your account as an apology."),
    _bi("review", "FEEDBACK", 1.5, ("Leave a review", "Dejar una opinión", "Memberi ulasan"), (
        "¿Dónde puedo dejar una opinión sobre el vendedor?",
        "Quiero valorar mi compra pero no me aparece la opción.",
        "Me gustaría dejar un comentario sobre vuestro servicio.",
    ), (
        "Di mana saya bisa memberi ulasan untuk penjual?",
        "Saya mau kasih rating tapi tombolnya tidak muncul.",
        "Saya ingin memberi masukan tentang layanan kalian.",
    ), "You can leave a review from Orders > {order} > Rate this purchase once the item is delivered. Reviews can "
       "be edited for 30 days."),
    _bi("newsletter_subscription", "NEWSLETTER", 1, ("Newsletter", "Boletín de ofertas", "Langganan newsletter"), (
        "Quiero darme de baja del boletín, recibo demasiados correos.",
        "¿Cómo me suscribo a las ofertas por correo?",
        "Sigo recibiendo la newsletter aunque me di de baja.",
    ), (
        "Saya mau berhenti langganan newsletter, emailnya terlalu banyak.",
        "Bagaimana cara berlangganan info promo lewat email?",
        "Saya masih dapat newsletter padahal sudah berhenti langganan.",
    ), "Done: you've been unsubscribed from marketing e-mails. Messages already scheduled can take up to 48 hours "
       "to stop."),
)
BUYER_INTENT_BY_NAME = {i.intent: i for i in BUYER_INTENTS}

# Solutions in Spanish and Indonesian, per Bitext category (lower case).
SOLVE_BY_FAMILY: dict[str, Texts] = {
    "account": {
        "es": "He revisado tu cuenta y ya está todo resuelto; los cambios se aplican de inmediato. Si vuelves a "
              "tener problemas, responde a este mensaje.",
        "id": "Saya sudah cek akun Anda dan semuanya sudah beres; perubahan langsung berlaku. Kalau masih ada "
              "kendala, silakan balas pesan ini.",
    },
    "cancellation_fee": {
        "es": "Cancelar antes de que el vendedor envíe el pedido es gratis. El pedido {order} todavía no ha salido, "
              "así que no se aplicará ningún cargo.",
        "id": "Pembatalan sebelum penjual mengirim pesanan tidak dikenakan biaya. Pesanan {order} belum dikirim, "
              "jadi tidak ada biaya apa pun.",
    },
    "contact": {
        "es": "Estás en el sitio correcto: atendemos en este centro de ayuda y en el chat de la app a todas horas. "
              "Tu pedido {order} va según lo previsto; dime si necesitas algo más.",
        "id": "Anda sudah menghubungi tempat yang tepat: kami melayani lewat pusat bantuan dan chat di aplikasi "
              "24 jam. Pesanan {order} berjalan sesuai jadwal; kabari saya kalau ada yang lain.",
    },
    "delivery": {
        "es": "He comprobado el pedido {order}: está en manos del transportista y la entrega prevista es en {days} "
              "días laborables. Te avisaremos cuando salga en reparto.",
        "id": "Saya sudah cek pesanan {order}: paket sudah di kurir dan estimasi tiba dalam {days} hari kerja. "
              "Anda akan mendapat notifikasi saat paket diantar.",
    },
    "feedback": {
        "es": "Siento mucho lo ocurrido. He registrado tu reclamación sobre el pedido {order} y te hemos abonado "
              "{amount} en tu cuenta como disculpa.",
        "id": "Mohon maaf atas pengalaman ini. Keluhan Anda untuk pesanan {order} sudah kami catat, dan kami "
              "memberikan saldo {amount} sebagai permintaan maaf.",
    },
    "invoices": {
        "es": "Te he enviado por correo la factura del pedido {order} con tus datos fiscales. También puedes "
              "descargarla desde la página del pedido.",
        "id": "Faktur untuk pesanan {order} sudah saya kirim ke email Anda. Anda juga bisa mengunduhnya dari "
              "halaman pesanan.",
    },
    "newsletter": {
        "es": "Listo: ya no recibirás comunicaciones comerciales. Los correos ya programados pueden tardar hasta "
              "48 horas en dejar de llegar.",
        "id": "Sudah beres: Anda tidak akan menerima email promosi lagi. Email yang sudah terjadwal mungkin masih "
              "masuk hingga 48 jam.",
    },
    "order": {
        "es": "He gestionado el pedido {order} con el vendedor y ya está confirmado. Verás el pedido actualizado en "
              "tu cuenta en unos minutos.",
        "id": "Pesanan {order} sudah saya koordinasikan dengan penjual dan sudah dikonfirmasi. Pesanan yang "
              "diperbarui akan muncul di akun Anda sebentar lagi.",
    },
    "payment": {
        "es": "He revisado el pago del pedido {order}: el segundo cargo era solo una retención y ya se ha liberado. "
              "Desaparecerá de tu extracto en 3-5 días laborables.",
        "id": "Saya sudah cek pembayaran pesanan {order}: tagihan kedua hanya dana yang ditahan sementara dan sudah "
              "dilepas. Dana akan kembali dalam 3-5 hari kerja.",
    },
    "refund": {
        "es": "He aprobado el reembolso de {amount} del pedido {order}. Lo recibirás en el mismo método de pago en "
              "3-5 días laborables.",
        "id": "Refund sebesar {amount} untuk pesanan {order} sudah saya setujui. Dana akan kembali ke metode "
              "pembayaran awal dalam 3-5 hari kerja.",
    },
    "shipping": {
        "es": "He actualizado la dirección de entrega del pedido {order} antes del envío. La verás en la página del "
              "pedido.",
        "id": "Alamat pengiriman pesanan {order} sudah saya perbarui sebelum dikirim. Alamat baru bisa dilihat di "
              "halaman pesanan.",
    },
}

_ASK_ORDER = {
    "en": "Could you send me the order number (it starts with BR-) so I can look into it?",
    "es": "¿Puedes enviarme el número de pedido (empieza por BR-) para revisarlo?",
    "id": "Boleh kirimkan nomor pesanannya (diawali BR-) supaya bisa saya cek?",
}
ASK_BY_FAMILY: dict[str, Texts] = {
    "account": {
        "en": "To protect your account, could you confirm the e-mail address and the last four digits of the phone "
              "number on it?",
        "es": "Para proteger tu cuenta, ¿puedes confirmarnos el correo y los cuatro últimos dígitos del teléfono "
              "asociado?",
        "id": "Demi keamanan akun, bisa konfirmasi alamat email dan empat digit terakhir nomor HP yang terdaftar?",
    },
    "payment": {
        "en": "Could you send me the order number and the last four digits of the card that was charged? A "
              "screenshot of the statement helps too.",
        "es": "¿Me envías el número de pedido y los cuatro últimos dígitos de la tarjeta? Una captura del extracto "
              "también ayuda.",
        "id": "Boleh kirim nomor pesanan dan empat digit terakhir kartu yang ditagih? Tangkapan layar mutasi juga "
              "membantu.",
    },
    "contact": {
        "en": "Could you tell me a little more about what you need help with, and the order number if it's about "
              "an order?",
        "es": "¿Puedes contarme un poco más sobre lo que necesitas y, si es sobre un pedido, su número?",
        "id": "Boleh ceritakan lebih detail apa yang bisa kami bantu, dan nomor pesanannya kalau terkait pesanan?",
    },
}
for _family in ("order", "delivery", "shipping", "refund", "invoices", "feedback", "cancellation_fee", "newsletter"):
    ASK_BY_FAMILY[_family] = _ASK_ORDER

PROVIDE_INFO: Variants = {
    "en": ("The order number is {order}.", "Sure, it's {order}. Thanks for checking.",
           "Here you go: order {order}, paid on {date}.", "It's {order}. The card ends in {digits}."),
    "es": ("El número de pedido es {order}.", "Claro, es el {order}. Gracias.",
           "Aquí lo tienes: pedido {order}, pagado el {date}.", "Es el {order}. La tarjeta acaba en {digits}."),
    "id": ("Nomor pesanannya {order}.", "Ini nomornya: {order}. Terima kasih.",
           "Pesanan {order}, dibayar tanggal {date}.", "Nomornya {order}. Kartu berakhiran {digits}."),
}
PROVIDE_ACCOUNT_INFO: Variants = {
    "en": ("It's the e-mail I'm writing from, and the phone ends in {digits}.",),
    "es": ("Es este mismo correo y el teléfono acaba en {digits}.",),
    "id": ("Emailnya yang ini, dan nomor HP berakhiran {digits}.",),
}
REOPEN: Variants = {
    "en": ("Sorry, but this still isn't fixed.", "It's been {days} more days and nothing has changed.",
           "I'm afraid the problem is back.", "This didn't solve it; I still have the same issue."),
    "es": ("Lo siento, pero sigue sin solucionarse.", "Han pasado {days} días más y nada ha cambiado.",
           "Me temo que el problema ha vuelto."),
    "id": ("Maaf, masalahnya belum selesai.", "Sudah {days} hari lagi dan belum ada perubahan.",
           "Sepertinya masalahnya muncul lagi."),
}
CHASER: Variants = {
    "en": ("Any update on this?", "Hi, just checking whether there's any news.", "Still waiting on this, please."),
    "es": ("¿Hay alguna novedad?", "Hola, ¿sabéis algo ya?"),
    "id": ("Ada kabar terbaru?", "Halo, bagaimana perkembangannya?"),
}
FIX_AFTER_REOPEN: Texts = {
    "en": "Thanks for letting me know, and sorry for the trouble. I've looked again and fixed it properly this "
          "time; you'll get a confirmation e-mail shortly.",
    "es": "Gracias por avisarnos y perdona las molestias. Lo he revisado de nuevo y ya está solucionado; recibirás "
          "un correo de confirmación.",
    "id": "Terima kasih infonya dan mohon maaf atas ketidaknyamanannya. Sudah saya cek ulang dan sekarang sudah "
          "beres; Anda akan menerima email konfirmasi.",
}
NO_RESPONSE: Texts = {
    "en": "We haven't heard back from you, so I'm marking this as solved. Just reply to this message if you still "
          "need help.",
    "es": "Como no hemos recibido respuesta, marco el caso como resuelto. Responde a este mensaje si aún necesitas "
          "ayuda.",
    "id": "Karena belum ada balasan, kasus ini saya tandai selesai. Balas pesan ini kalau masih butuh bantuan.",
}
INVESTIGATING: Texts = {
    "en": "I've opened an investigation and will update you as soon as I hear back, usually within 48 hours.",
    "es": "He abierto una investigación y te escribiré en cuanto tenga respuesta, normalmente en 48 horas.",
    "id": "Saya sudah membuka investigasi dan akan mengabari Anda begitu ada jawaban, biasanya dalam 48 jam.",
}
WORKING_ON_IT: Texts = {
    "en": "Thanks for the details. I'm looking into this now and will get back to you today.",
    "es": "Gracias por los detalles. Lo estoy revisando y te respondo hoy mismo.",
    "id": "Terima kasih atas detailnya. Sedang saya cek dan akan saya kabari hari ini.",
}
HANDOVER: Texts = {
    "en": "Thanks for your patience. I'm passing this to our specialist team, who can look into it properly; "
          "they'll reply here.",
    "es": "Gracias por tu paciencia. Paso tu caso a nuestro equipo especializado, que podrá revisarlo a fondo y te "
          "responderá aquí.",
    "id": "Terima kasih atas kesabarannya. Kasus ini saya teruskan ke tim spesialis kami yang akan menanganinya "
          "dan membalas di sini.",
}
DUPLICATE_REPLY: Texts = {
    "en": "We're already handling this in your earlier case {ref}, so I'm closing this one to keep all updates in "
          "one place.",
    "es": "Ya estamos gestionando esto en tu caso anterior {ref}, así que cierro este para tener todas las "
          "novedades en un solo sitio.",
    "id": "Masalah ini sudah kami tangani di kasus Anda sebelumnya, {ref}, jadi kasus ini saya tutup agar semua "
          "kabar ada di satu tempat.",
}
# The carrier strike in Spain (``timeline.SPIKES``): buyers whose parcels sit at the carrier's Madrid hub.
# Parcelway is the demo's own carrier, not a real company.
CARRIER_STRIKE: Variants = {
    "en": ("My parcel from Parcelway hasn't moved for {days} days: tracking still says it is at the Madrid hub.",
           "Order {order} is stuck with Parcelway. Is something wrong with deliveries in Spain?",
           "Parcelway told me there is a strike and they can't say when order {order} will arrive.",
           "The Parcelway tracking for my {item} has said 'in transit' since {date} and nothing has changed."),
    "es": ("Mi paquete de Parcelway no se mueve desde hace {days} días: el seguimiento sigue en el centro de Madrid.",
           "El pedido {order} está parado en Parcelway. ¿Pasa algo con los envíos?",
           "En Parcelway me dicen que hay huelga y que no saben cuándo entregarán el pedido {order}.",
           "Mi paquete de Parcelway lleva días en el almacén de Coslada sin moverse. ¿Qué hago?",
           "El seguimiento de Parcelway pone «incidencia en el centro de distribución» desde el {date}."),
    "id": ("Paket saya dari Parcelway tidak bergerak sudah {days} hari, masih di gudang Madrid.",
           "Pesanan {order} tertahan di Parcelway. Apakah ada masalah pengiriman?"),
}

DUPLICATE_OPENER: Texts = {
    "en": "I wrote about this already but haven't heard back. ",
    "es": "Ya escribí sobre esto pero no he tenido respuesta. ",
    "id": "Saya sudah pernah menulis soal ini tapi belum ada balasan. ",
}

GREETING: Texts = {"en": "Hi {first},", "es": "Hola, {first}:", "id": "Halo {first},"}
SIGN_OFF: Texts = {
    "en": "Best regards,\n{agent}\nBramble Support",
    "es": "Un saludo,\n{agent}\nAtención al cliente de Bramble",
    "id": "Salam,\n{agent}\nTim Bantuan Bramble",
}
CHAT_GREETING: Texts = {"en": "Hi {first}! ", "es": "¡Hola, {first}! ", "id": "Halo {first}! "}

# ---------------------------------------------------------------- sellers and creators


@dataclass(frozen=True)
class TopicText:
    key: str  # topic key, e.g. seller.payouts_delayed
    weight: float
    subject: Texts
    bodies: Variants
    solve: Texts
    ask: Texts


SELLER_TOPICS: tuple[TopicText, ...] = (
    TopicText("seller.payouts_delayed", 5,
              {"en": "Payout not received", "es": "No he recibido la liquidación", "id": "Dana penjualan belum cair"},
              {"en": ("Hi, my payout of {amount} was scheduled for {date} but it still hasn't reached my bank "
                      "account. Shop: {shop}.",
                      "Our weekly payout is {days} days late and the balance page just says 'processing'. Can you "
                      "check what's going on?"),
               "es": ("Hola, la liquidación de {amount} estaba prevista para el {date} y todavía no la he recibido "
                      "en el banco. Tienda: {shop}.",
                      "La liquidación semanal lleva {days} días de retraso y solo pone 'en proceso'."),
               "id": ("Halo, pencairan dana {amount} dijadwalkan tanggal {date} tapi belum masuk ke rekening. "
                      "Toko: {shop}.",
                      "Pencairan mingguan sudah telat {days} hari dan statusnya masih 'diproses'.")},
              {"en": "Your payout of {amount} was held by a bank-detail check; I've cleared it and it has been resent. "
                     "It should reach your account within 2 working days.",
               "es": "La liquidación de {amount} estaba retenida por una verificación de los datos bancarios; ya la "
                     "he liberado y se ha reenviado. Llegará en 2 días laborables.",
               "id": "Pencairan {amount} tertahan karena verifikasi rekening; sudah saya selesaikan dan dana dikirim "
                     "ulang. Dana masuk dalam 2 hari kerja."},
              {"en": "Could you confirm the last four digits of the bank account on file and the payout date shown in "
                     "your statement?",
               "es": "¿Puedes confirmarnos los cuatro últimos dígitos de la cuenta bancaria y la fecha de la "
                     "liquidación que aparece en tu extracto?",
               "id": "Boleh konfirmasi empat digit terakhir rekening yang terdaftar dan tanggal pencairan di laporan "
                     "Anda?"}),
    TopicText("seller.listing_removed", 4,
              {"en": "Listing removed", "es": "Anuncio retirado", "id": "Produk diturunkan"},
              {"en": ("Your system removed my listing '{item}' for a policy violation, but it's a genuine product and I "
                      "have the supplier invoices. Please restore it.",
                      "Three of my listings were taken down overnight without explanation. I'd like to know which rule "
                      "they broke."),
               "es": ("Habéis retirado mi anuncio '{item}' por infringir las normas, pero es un producto original y "
                      "tengo las facturas del proveedor.",
                      "Esta noche me han quitado tres anuncios sin explicación. ¿Qué norma incumplen?"),
               "id": ("Produk '{item}' saya diturunkan karena dianggap melanggar kebijakan, padahal barangnya asli dan "
                      "saya punya faktur dari pemasok.",
                      "Tiga produk saya diturunkan semalam tanpa penjelasan. Aturan mana yang dilanggar?")},
              {"en": "I've reviewed '{item}': it was flagged by an automated keyword check. The listing is restored; to "
                     "avoid it happening again, keep brand names out of the title unless you're an authorised "
                     "reseller.",
               "es": "He revisado '{item}': lo marcó un filtro automático de palabras clave. El anuncio ya está "
                     "restaurado; para evitarlo, no uses marcas en el título si no eres distribuidor autorizado.",
               "id": "Saya sudah cek '{item}': produk ini ditandai oleh filter kata kunci otomatis. Produk sudah "
                     "ditayangkan lagi; hindari nama merek di judul kecuali Anda penjual resmi."},
              {"en": "Could you send the supplier invoice for '{item}' so I can check it against the listing?",
               "es": "¿Puedes enviarnos la factura del proveedor de '{item}' para compararla con el anuncio?",
               "id": "Boleh kirimkan faktur pemasok untuk '{item}' supaya bisa saya cocokkan dengan produknya?"}),
    TopicText("seller.account_verification", 3,
              {"en": "Verification pending", "es": "Verificación pendiente", "id": "Verifikasi tertunda"},
              {"en": ("I uploaded my ID and business registration {days} days ago and verification is still pending, "
                      "so I can't list new items.",
                      "Verification keeps rejecting my proof of address, but it's a recent utility bill."),
               "es": ("Subí mi DNI y el alta de autónomo hace {days} días y la verificación sigue pendiente; no puedo "
                      "publicar productos.",
                      "La verificación rechaza mi justificante de domicilio, pero es una factura reciente."),
               "id": ("Saya sudah unggah KTP dan NIB {days} hari lalu tapi verifikasi masih tertunda, jadi tidak bisa "
                      "menambah produk.",
                      "Verifikasi terus menolak bukti alamat saya, padahal itu tagihan listrik terbaru.")},
              {"en": "Thanks for waiting. Your documents are approved and the shop is fully verified, so you can list "
                     "new items again.",
               "es": "Gracias por esperar. Tus documentos están aprobados y la tienda ya está verificada; puedes "
                     "volver a publicar productos.",
               "id": "Terima kasih sudah menunggu. Dokumen Anda sudah disetujui dan toko sudah terverifikasi, jadi "
                     "Anda bisa menambah produk lagi."},
              {"en": "The scan of your document is cut off at the edges. Could you upload it again, showing all four "
                     "corners?",
               "es": "La imagen del documento está cortada. ¿Puedes subirla de nuevo con las cuatro esquinas "
                     "visibles?",
               "id": "Foto dokumennya terpotong. Boleh unggah ulang dengan keempat sudut terlihat?"}),
    TopicText("seller.fee_question", 3,
              {"en": "Question about fees", "es": "Duda sobre comisiones", "id": "Pertanyaan soal biaya"},
              {"en": ("I was charged a {fee}% commission on order {order}, but the fee table for my category says "
                      "{fee2}%. Can you explain?",
                      "There's a deduction on my sales statement I don't understand. What is it for?"),
               "es": ("Me habéis cobrado una comisión del {fee}% en el pedido {order}, pero en la tabla de mi "
                      "categoría pone {fee2}%.",
                      "No entiendo un descuento que aparece en mi extracto de ventas."),
               "id": ("Saya kena komisi {fee}% untuk pesanan {order}, padahal di tabel biaya kategori saya tertulis "
                      "{fee2}%.",
                      "Ada potongan di laporan penjualan yang saya tidak mengerti.")},
              {"en": "The extra {diff} points are the optional promoted-listing fee you turned on in {period}. You can "
                     "switch promotion off under Marketing at any time.",
               "es": "Los {diff} puntos de más corresponden a la promoción de anuncios que activaste en {period}. "
                     "Puedes desactivarla en Marketing cuando quieras.",
               "id": "Selisih {diff} poin itu biaya promosi produk yang Anda aktifkan pada {period}. Promosi bisa "
                     "dimatikan kapan saja di menu Pemasaran."},
              {"en": "Could you tell me which statement (month) and order numbers the deduction appears on?",
               "es": "¿En qué extracto (mes) y en qué pedidos aparece el descuento?",
               "id": "Potongan itu muncul di laporan bulan apa dan di pesanan mana saja?"}),
    TopicText("seller.shipping_label", 2,
              {"en": "Can't print shipping label", "es": "No puedo imprimir la etiqueta",
               "id": "Label pengiriman tidak bisa dicetak"},
              {"en": ("I can't print the shipping label for order {order}; the page shows an error and the dispatch "
                      "deadline is today.",),
               "es": ("No puedo imprimir la etiqueta del pedido {order}; sale un error y hoy vence el plazo de "
                      "envío.",),
               "id": ("Label pengiriman untuk pesanan {order} tidak bisa dicetak, muncul error padahal batas kirim "
                      "hari ini.",)},
              {"en": "The carrier's label service had an outage this morning; it's back. I've generated the label for "
                     "order {order} and extended your dispatch deadline by one day.",
               "es": "El servicio de etiquetas del transportista tuvo una caída esta mañana; ya funciona. He generado "
                     "la etiqueta del pedido {order} y ampliado un día tu plazo de envío.",
               "id": "Layanan label kurir sempat gangguan tadi pagi dan sekarang sudah normal. Label pesanan {order} "
                     "sudah saya buat dan batas kirim Anda diperpanjang satu hari."},
              {"en": "Could you send a screenshot of the error you see?",
               "es": "¿Puedes enviarnos una captura del error?",
               "id": "Boleh kirim tangkapan layar errornya?"}),
    TopicText("seller.buyer_dispute", 3,
              {"en": "Buyer opened a dispute", "es": "Un comprador ha abierto una disputa",
               "id": "Pembeli mengajukan komplain"},
              {"en": ("A buyer opened a 'not as described' claim for order {order}, but the item was exactly as "
                      "listed. I have photos from packing.",
                      "A buyer says order {order} never arrived, but tracking shows it was delivered and signed for."),
               "es": ("Un comprador ha abierto una reclamación de 'no coincide con la descripción' en el pedido "
                      "{order}, pero el artículo era exactamente el anunciado.",),
               "id": ("Pembeli mengajukan komplain 'tidak sesuai deskripsi' untuk pesanan {order}, padahal barangnya "
                      "persis seperti di foto.",)},
              {"en": "Thanks for the photos. I've reviewed the claim on order {order} and closed it in your favour; it "
                     "won't count against your seller metrics.",
               "es": "Gracias por las fotos. He revisado la reclamación del pedido {order} y la he cerrado a tu favor; "
                     "no afectará a tus métricas de vendedor.",
               "id": "Terima kasih atas fotonya. Komplain untuk pesanan {order} sudah saya tinjau dan ditutup untuk "
                     "kemenangan Anda; tidak memengaruhi skor toko Anda."},
              {"en": "Could you upload the packing photos and the tracking number for order {order}?",
               "es": "¿Puedes subir las fotos del embalaje y el número de seguimiento del pedido {order}?",
               "id": "Boleh unggah foto pengemasan dan nomor resi untuk pesanan {order}?"}),
    TopicText("seller.stock_sync", 1.5,
              {"en": "Inventory sync failing", "es": "Error al sincronizar el inventario",
               "id": "Sinkronisasi stok gagal"},
              {"en": ("My inventory feed failed overnight and {n} listings now show out of stock.",),
               "es": ("La sincronización del inventario falló esta noche y {n} anuncios aparecen sin stock.",),
               "id": ("Sinkronisasi stok gagal semalam dan {n} produk sekarang tertulis stok habis.",)},
              {"en": "The feed stopped on a malformed row (line {n}). I've re-run the import without it, and your "
                     "listings are back in stock.",
               "es": "La importación se detuvo en una fila con errores (línea {n}). La he relanzado sin ella y tus "
                     "anuncios vuelven a tener stock.",
               "id": "Impor berhenti di baris yang formatnya salah (baris {n}). Sudah saya jalankan ulang tanpa baris "
                     "itu, dan stok produk Anda sudah kembali."},
              {"en": "Could you send the file you uploaded, or the feed URL?",
               "es": "¿Puedes enviarnos el archivo que subiste o la URL del feed?",
               "id": "Boleh kirim file yang diunggah atau URL feed-nya?"}),
)

CREATOR_TOPICS: tuple[TopicText, ...] = (
    TopicText("creator.commissions_missing", 4,
              {"en": "Missing commissions", "es": "Faltan comisiones", "id": "Komisi tidak masuk"},
              {"en": ("My affiliate dashboard shows {n} sales for {period} but only {amount} in commissions. Some "
                      "seem to be missing.",),
               "es": ("Mi panel de afiliado muestra {n} ventas en {period} pero solo {amount} de comisiones.",),
               "id": ("Dasbor afiliasi saya menunjukkan {n} penjualan di {period} tapi komisinya cuma {amount}.",)},
              {"en": "{n2} of those sales were returned within the 30-day window, so their commission was reversed. "
                     "The rest is correct; the breakdown is under Earnings > Details.",
               "es": "{n2} de esas ventas se devolvieron dentro de los 30 días, así que su comisión se anuló. El resto "
                     "es correcto; tienes el detalle en Ganancias > Detalles.",
               "id": "{n2} dari penjualan itu diretur dalam 30 hari, jadi komisinya dibatalkan. Sisanya sudah benar; "
                     "rinciannya ada di Penghasilan > Detail."},
              {"en": "Could you tell me which links or videos the missing sales came from?",
               "es": "¿De qué enlaces o vídeos vienen las ventas que faltan?",
               "id": "Penjualan yang hilang itu dari link atau video yang mana?"}),
    TopicText("creator.content_restricted", 3,
              {"en": "Content restricted", "es": "Contenido restringido", "id": "Konten dibatasi"},
              {"en": ("My video '{title}' was restricted and no longer appears in the shop feed. It follows the "
                      "community guidelines.",),
               "es": ("Mi vídeo '{title}' ha sido restringido y ya no aparece en el feed de la tienda.",),
               "id": ("Video saya '{title}' dibatasi dan tidak muncul lagi di feed toko.",)},
              {"en": "The restriction was triggered by the music track in the video. I've lifted it after review; "
                     "please use tracks from the licensed library next time.",
               "es": "La restricción se debía a la música del vídeo. La he levantado tras revisarlo; usa canciones de "
                     "la biblioteca con licencia la próxima vez.",
               "id": "Pembatasan dipicu oleh musik di video itu. Sudah saya cabut setelah ditinjau; gunakan lagu dari "
                     "pustaka berlisensi lain kali."},
              {"en": "Could you send the link to the video and the date you posted it?",
               "es": "¿Nos envías el enlace del vídeo y la fecha de publicación?",
               "id": "Boleh kirim link video dan tanggal unggahnya?"}),
    TopicText("creator.payout_tax_form", 2,
              {"en": "Payouts on hold (tax form)", "es": "Pagos retenidos (formulario fiscal)",
               "id": "Pencairan ditahan (formulir pajak)"},
              {"en": ("My creator payouts are on hold because of a missing tax form, but I submitted it on {date}.",),
               "es": ("Mis pagos de creador están retenidos por falta de un formulario fiscal, pero lo envié el "
                      "{date}.",),
               "id": ("Pencairan kreator saya ditahan karena formulir pajak, padahal sudah saya kirim tanggal "
                      "{date}.",)},
              {"en": "Your tax form was received but not linked to your creator account. I've linked it and released "
                     "the payouts on hold.",
               "es": "Recibimos tu formulario fiscal pero no estaba vinculado a tu cuenta de creador. Ya lo he "
                     "vinculado y he liberado los pagos retenidos.",
               "id": "Formulir pajak Anda sudah diterima tapi belum terhubung ke akun kreator. Sudah saya hubungkan "
                     "dan pencairan yang ditahan sudah dilepas."},
              {"en": "Could you confirm the name exactly as it appears on the tax form?",
               "es": "¿Puedes confirmar el nombre exactamente como aparece en el formulario?",
               "id": "Boleh konfirmasi nama persis seperti yang tertulis di formulir pajak?"}),
    TopicText("creator.affiliate_links", 1.5,
              {"en": "Affiliate links not working", "es": "Los enlaces de afiliado no funcionan",
               "id": "Link afiliasi error"},
              {"en": ("The product links in my storefront show an error since yesterday, so I'm losing sales.",),
               "es": ("Los enlaces de productos de mi escaparate dan error desde ayer y estoy perdiendo ventas.",),
               "id": ("Link produk di etalase saya error sejak kemarin, jadi penjualan saya hilang.",)},
              {"en": "A product in your storefront was delisted by its seller, which broke the collection. I've "
                     "repaired the links and removed the unavailable item.",
               "es": "Un vendedor retiró un producto de tu escaparate y eso rompió la colección. He reparado los "
                     "enlaces y quitado el artículo no disponible.",
               "id": "Salah satu produk di etalase Anda ditarik oleh penjualnya sehingga koleksinya rusak. Link sudah "
                     "saya perbaiki dan produk yang tidak tersedia sudah dihapus."},
              {"en": "Could you send the storefront link and one of the links that fails?",
               "es": "¿Nos envías el enlace del escaparate y uno de los enlaces que fallan?",
               "id": "Boleh kirim link etalase dan salah satu link yang error?"}),
)

# ---------------------------------------------------------------- appeals


@dataclass(frozen=True)
class AppealText:
    key: str  # topic key, e.g. appeal.listing_removed
    party_kinds: tuple[str, ...]
    subject: Texts
    body: Texts
    ground: Texts  # why a decision is upheld
    remedy: Texts  # what happens when it is overturned


APPEALS: tuple[AppealText, ...] = (
    AppealText("appeal.listing_removed", ("seller",),
               {"en": "Appeal: listing removed", "es": "Recurso: anuncio retirado", "id": "Banding: produk diturunkan"},
               {"en": "I'm appealing the removal of my listing '{item}' (decision {decision}). The product is "
                      "authentic; I've attached the purchase invoices from my supplier.",
                "es": "Recurro la retirada de mi anuncio '{item}' (decisión {decision}). El producto es original; "
                      "adjunto las facturas de compra de mi proveedor.",
                "id": "Saya mengajukan banding atas penurunan produk '{item}' (keputusan {decision}). Produknya asli; "
                      "faktur pembelian dari pemasok saya lampirkan."},
               {"en": "the listing used another brand's trademarks without authorisation",
                "es": "el anuncio usaba marcas registradas de otra empresa sin autorización",
                "id": "produk tersebut memakai merek dagang pihak lain tanpa izin"},
               {"en": "the listing is restored", "es": "el anuncio vuelve a estar publicado",
                "id": "produk sudah ditayangkan kembali"}),
    AppealText("appeal.account_suspended", ("seller", "creator"),
               {"en": "Appeal: account suspended", "es": "Recurso: cuenta suspendida", "id": "Banding: akun ditangguhkan"},
               {"en": "I'm appealing the suspension of my account (decision {decision}). I believe it was a mistake: "
                      "the flagged orders were cancelled by the buyers themselves.",
                "es": "Recurro la suspensión de mi cuenta (decisión {decision}). Creo que es un error: los pedidos "
                      "señalados los cancelaron los propios compradores.",
                "id": "Saya mengajukan banding atas penangguhan akun saya (keputusan {decision}). Saya rasa ini keliru: "
                      "pesanan yang ditandai dibatalkan sendiri oleh pembeli."},
               {"en": "the account was linked to repeated requests for off-platform payment",
                "es": "la cuenta estaba vinculada a peticiones repetidas de pago fuera de la plataforma",
                "id": "akun tersebut terkait permintaan pembayaran di luar platform secara berulang"},
               {"en": "your account is active again", "es": "tu cuenta vuelve a estar activa",
                "id": "akun Anda sudah aktif kembali"}),
    AppealText("appeal.payout_withheld", ("seller",),
               {"en": "Appeal: payout withheld", "es": "Recurso: liquidación retenida",
                "id": "Banding: pencairan ditahan"},
               {"en": "I'm appealing the decision to withhold my payout of {amount} (decision {decision}). All the "
                      "orders in question were delivered with tracking.",
                "es": "Recurro la decisión de retener mi liquidación de {amount} (decisión {decision}). Todos los "
                      "pedidos se entregaron con seguimiento.",
                "id": "Saya mengajukan banding atas penahanan pencairan {amount} (keputusan {decision}). Semua pesanan "
                      "terkait sudah terkirim dengan nomor resi."},
               {"en": "the orders are still under a chargeback investigation",
                "es": "los pedidos siguen bajo una investigación de contracargo",
                "id": "pesanan-pesanan tersebut masih dalam investigasi chargeback"},
               {"en": "the payout has been released", "es": "la liquidación se ha liberado",
                "id": "dana sudah dicairkan"}),
    AppealText("appeal.content_removed", ("creator",),
               {"en": "Appeal: content removed", "es": "Recurso: contenido retirado", "id": "Banding: konten dihapus"},
               {"en": "I'm appealing the removal of my video '{title}' (decision {decision}). It's an honest product "
                      "review and doesn't break the guidelines.",
                "es": "Recurro la retirada de mi vídeo '{title}' (decisión {decision}). Es una reseña honesta y no "
                      "incumple las normas.",
                "id": "Saya mengajukan banding atas penghapusan video '{title}' (keputusan {decision}). Itu ulasan "
                      "produk yang jujur dan tidak melanggar pedoman."},
               {"en": "the video included paid promotion that was not disclosed",
                "es": "el vídeo incluía promoción pagada sin indicarlo",
                "id": "video tersebut berisi promosi berbayar yang tidak diungkapkan"},
               {"en": "the video is visible again", "es": "el vídeo vuelve a estar visible",
                "id": "video sudah bisa dilihat lagi"}),
)
APPEAL_BY_KEY = {a.key: a for a in APPEALS}

APPEAL_UPHELD: Texts = {
    "en": "Thank you for your appeal. A reviewer has looked again at decision {decision} and the evidence you sent. "
          "We are upholding the decision because {ground}. If you disagree, you can ask a certified out-of-court "
          "dispute settlement body to review it; the help center explains how.",
    "es": "Gracias por tu recurso. Un revisor ha examinado de nuevo la decisión {decision} y las pruebas que "
          "enviaste. Mantenemos la decisión porque {ground}. Si no estás de acuerdo, puedes acudir a un órgano "
          "certificado de resolución extrajudicial de litigios; el centro de ayuda explica cómo.",
    "id": "Terima kasih atas banding Anda. Peninjau sudah memeriksa ulang keputusan {decision} beserta bukti yang "
          "Anda kirim. Keputusan tetap berlaku karena {ground}. Jika tidak setuju, Anda dapat mengajukannya ke "
          "lembaga penyelesaian sengketa di luar pengadilan; caranya ada di pusat bantuan.",
}
APPEAL_OVERTURNED: Texts = {
    "en": "Thank you for your appeal. A reviewer has looked again at decision {decision} and the evidence you sent, "
          "and we are reversing it: {remedy}. We're sorry for the inconvenience.",
    "es": "Gracias por tu recurso. Un revisor ha examinado de nuevo la decisión {decision} y las pruebas que "
          "enviaste, y la revocamos: {remedy}. Disculpa las molestias.",
    "id": "Terima kasih atas banding Anda. Peninjau sudah memeriksa ulang keputusan {decision} beserta bukti yang "
          "Anda kirim, dan keputusan tersebut kami batalkan: {remedy}. Mohon maaf atas ketidaknyamanannya.",
}
APPEAL_ASK: Texts = {
    "en": "To review decision {decision} we need a little more: could you upload the documents you mention (invoices "
          "or screenshots)?",
    "es": "Para revisar la decisión {decision} necesitamos algo más: ¿puedes subir los documentos que mencionas "
          "(facturas o capturas)?",
    "id": "Untuk meninjau keputusan {decision}, kami perlu dokumen yang Anda sebutkan (faktur atau tangkapan layar). "
          "Boleh diunggah?",
}
APPEAL_EVIDENCE: Texts = {
    "en": "I've uploaded the documents now. Thank you for looking into it.",
    "es": "Ya he subido los documentos. Gracias por revisarlo.",
    "id": "Dokumennya sudah saya unggah. Terima kasih sudah meninjau.",
}

# ---------------------------------------------------------------- internal requests (staff write in English)

INTERNAL_SUBJECTS: dict[str, tuple[str, ...]] = {
    "refund-exception": ("Refund exception for {order}", "Goodwill refund over limit: {order}",
                         "Refund outside the window for {order}"),
    "seller-account-review": ("Review shop {shop}", "Possible counterfeits from {shop}",
                              "Buyers report off-platform payment requests: {shop}"),
    "policy-clarification": ("Policy question: {area}", "Which rule applies? ({area})"),
    "tooling-access": ("Access request: {tool}", "{tool} access for a new joiner"),
}
INTERNAL_BODIES: dict[str, tuple[str, ...]] = {
    "refund-exception": (
        "The customer's parcel was lost by the carrier after the protection window closed. Requesting an exception "
        "refund of {amount} on {order}.",
        "Long-standing customer, third failed delivery on {order}. The refund of {amount} is above my approval "
        "limit; please approve.",
    ),
    "seller-account-review": (
        "Several buyers report counterfeit items from {shop}. Case references are in the evidence field; please "
        "review the account.",
        "Buyers say {shop} asks them to pay by bank transfer outside the platform. Screenshots attached to the "
        "linked cases.",
    ),
    "policy-clarification": (
        "Agents are unsure whether {question} Can Policy confirm the rule so we can update the macro?",
        "We get this several times a day: {question} The help-center article does not say.",
    ),
    "tooling-access": (
        "New joiner on the {team} team needs {level} access to {tool} to work escalations.",
        "Role change: moving to {team}; please grant {level} access to {tool}.",
    ),
}
POLICY_QUESTIONS = (
    "a seller may ask buyers to leave a review in the parcel insert.",
    "a creator's discount code counts as disclosed promotion.",
    "refurbished phones can be listed as 'like new'.",
    "buyers can return personalised items when the personalisation is misspelt.",
    "sellers on holiday mode still have to answer existing disputes.",
)
INTERNAL_REPLIES: dict[str, Texts] = {
    "refund-exception": {"en": "Approved as a one-off exception: the refund of {amount} on {order} has been issued."},
    "seller-account-review": {"en": "Reviewed. We've restricted {shop} pending verification and removed the reported "
                                    "listings; buyers with open orders are protected."},
    "policy-clarification": {"en": "Confirmed with Policy: this is allowed only with clear disclosure. The macro and "
                                   "the help-center article have been updated."},
    "tooling-access": {"en": "Access granted ({level} on {tool}). It can take up to 15 minutes to propagate."},
}
INTERNAL_ASK: Texts = {"en": "Could you add the case references and, if you have them, the order IDs involved?"}
INTERNAL_ANSWER: Texts = {"en": "Added the references to the request fields. Thanks!"}

# ---------------------------------------------------------------- internal notes (English, the working language)

HOLD_NOTES: dict[str, tuple[str, str]] = {  # family -> (reason code, note)
    "delivery": ("waiting_on_carrier", "Opened a trace with the carrier (ref {ticket}); waiting for their answer."),
    "order": ("waiting_on_seller", "Asked the seller to confirm before dispatch; waiting on their reply."),
    "shipping": ("waiting_on_carrier", "Address change requested with the carrier (ref {ticket})."),
    "payment": ("waiting_on_payments_provider", "Asked the payment provider to confirm the capture (ref {ticket})."),
    "refund": ("waiting_on_payments_provider", "Refund stuck at the provider; ticket {ticket} raised."),
    "seller": ("waiting_on_internal_team", "Payouts team checking the bank file (ref {ticket})."),
    "creator": ("waiting_on_internal_team", "Asked the creator programme team to confirm (ref {ticket})."),
    "internal": ("waiting_on_approver", "Waiting for the approver named in the request."),
}
GENERIC_NOTES = (
    "Verified the customer's identity against the e-mail on file.",
    "Customer has two open orders; answered about the older one first.",
    "Checked order history: no previous contacts about this order.",
    "Carrier scan history reviewed: last scan at the regional hub.",
    "Macro used, edited for this customer's order.",
    "Customer was polite but frustrated; offered a follow-up if anything else comes up.",
)
REROUTE_NOTES: dict[str, str] = {
    "payment.payment_issue": "Double charge or failed capture: needs a payments specialist to check the PSP logs.",
    "refund.get_refund": "Refund above the Tier 1 approval limit.",
    "refund.track_refund": "Refund shows as sent but not received; needs payments to trace it with the bank.",
    "order.cancel_order": "Order already with the carrier; cancellation needs an intercept.",
    "order.change_order": "Change needs the seller's confirmation after dispatch.",
    "order.track_order": "Parcel lost in transit: carrier investigation and replacement needed.",
    "delivery.delivery_period": "Beyond the delivery promise: needs a carrier escalation.",
    "feedback.complaint": "Customer asked for a supervisor.",
    "account.delete_account": "Data deletion request with open orders: needs Tier 2.",
    "language": "Customer writes in Spanish; moving to the Spanish line.",
    "seller.payouts_delayed": "Payout held by a bank-file check: needs Seller Support T2.",
    "seller.listing_removed": "Seller is contesting an enforcement decision: belongs with Appeals.",
    "seller.account_verification": "Documents need a specialist review.",
    "seller.fee_question": "Fee dispute on a promoted listing: needs Tier 2.",
    "seller.buyer_dispute": "Dispute needs an orders specialist to review evidence from both sides.",
    "seller.shipping_label": "Label keeps failing for this order: needs Orders T2 to issue it and extend the deadline.",
    "seller.stock_sync": "Feed import failure: needs Tier 2 with feed tools.",
    "creator.commissions_missing": "Commission reconciliation needs Seller & Creator Support T2.",
    "creator.content_restricted": "Creator is contesting a restriction: belongs with Appeals.",
    "creator.payout_tax_form": "Tax forms are owned by Payments.",
    "creator.affiliate_links": "Storefront collection broken: needs Tier 2.",
    "bounce": "No specialist action needed; standard question, back to Tier 1.",
    "oncall": "Part of the payments incident: many duplicate charges since the afternoon. Paging oncall.",
}
