"""A fake of Sberbank's payment gateway REST API (the part the shop uses), after the seed's
RegisterPaymentsEndpoint / GetStatusPaymentsEndpoint and the gateway's documentation:

  POST /payment/rest/register.do               userName, password, orderNumber, amount (minor units),
                                               returnUrl, failUrl (optional), currency (optional)
      -> 200 {"orderId": "<uuid>", "formUrl": "<url>"}
      or 200 {"errorCode": "<n>", "errorMessage": "..."}:
         1 an orderNumber registered before, 4 a required parameter missing or empty,
         5 wrong userName/password or a bad amount
  POST /payment/rest/getOrderStatusExtended.do userName, password, orderId (or orderNumber)
      -> 200 {"errorCode": "0", "errorMessage": "Успешно", "orderNumber", "orderStatus", "actionCode",
              "actionCodeDescription", "amount", "currency", "date", ...}
      or 200 {"errorCode": "6", "errorMessage": "..."} for an unknown order, 5 for bad credentials

Parameters may come form-encoded in the body or in the query string, as the real gateway allows.
orderStatus: 0 registered, not paid; 1 amount held; 2 paid; 3 authorisation reversed; 4 refunded;
5 ACS authorisation started; 6 declined. The test moves an order with fake.set_status(order_id, n)
or pays it with fake.pay(order_id).

    gw = PaymentGateway(user="shop-api", password="secret")
    gw.url                      # PAYMENT_GATEWAY_URL for the server
    gw.orders[order_id]         # what was registered
    + the controls of fakehttp.FakeServer (down, fail, hang, calls, ...)

Run alone: python3 payment_gateway.py [port] [user] [password]
"""

import json
import sys
import threading
import time
import uuid

from fakehttp import FakeServer

REGISTER = "/payment/rest/register.do"
STATUS = "/payment/rest/getOrderStatusExtended.do"

STATUS_TEXT = {0: "Заказ зарегистрирован, но не оплачен", 1: "Сумма захолдирована", 2: "Проведена полная авторизация",
               3: "Авторизация отменена", 4: "По транзакции была проведена операция возврата",
               5: "Инициирована авторизация через ACS", 6: "Авторизация отклонена"}


class PaymentGateway(FakeServer):
    name = "payment-gateway"

    def __init__(self, user="shop-api", password="secret", port=0, calls_file=None):
        self.user, self.password = user, password
        self.orders = {}          # orderId -> {"orderNumber", "amount", "returnUrl", "failUrl", "orderStatus", ...}
        self._numbers = {}        # orderNumber -> orderId
        self._olock = threading.Lock()
        super().__init__(port=port, calls_file=calls_file)

    def set_status(self, order_id, status):
        with self._olock:
            self.orders[order_id]["orderStatus"] = int(status)

    def pay(self, order_id):
        self.set_status(order_id, 2)

    @staticmethod
    def _error(code, message):
        return 200, "application/json", json.dumps({"errorCode": str(code), "errorMessage": message},
                                                   ensure_ascii=False)

    def handle(self, call):
        p = call["params"]
        if call["path"] not in (REGISTER, STATUS):
            return 404, "text/plain", "not found"
        if p.get("userName") != self.user or p.get("password") != self.password:
            return self._error(5, "Доступ запрещён.")
        if call["path"] == REGISTER:
            return self._register(p)
        return self._status(p)

    def _register(self, p):
        for name, text in (("orderNumber", "Номер заказа не может быть пуст"),
                           ("amount", "Сумма не может быть пустой"),
                           ("returnUrl", "URL возврата не может быть пуст")):
            if not str(p.get(name, "")).strip():
                return self._error(4, text)
        amount = str(p["amount"])
        if not amount.isdigit() or int(amount) <= 0:
            return self._error(5, "Неверная сумма")
        with self._olock:
            if p["orderNumber"] in self._numbers:
                return self._error(1, "Заказ с таким номером уже обработан")
            order_id = str(uuid.uuid4())
            self._numbers[p["orderNumber"]] = order_id
            self.orders[order_id] = {"orderNumber": p["orderNumber"], "amount": int(amount),
                                     "returnUrl": p["returnUrl"], "failUrl": p.get("failUrl"),
                                     "currency": p.get("currency", "643"), "orderStatus": 0,
                                     "date": int(time.time() * 1000)}
        form = "%s/payment/merchants/sbersafe/payment_ru.html?mdOrder=%s" % (self.url, order_id)
        return 200, "application/json", json.dumps({"orderId": order_id, "formUrl": form})

    def _status(self, p):
        with self._olock:
            order_id = p.get("orderId") or self._numbers.get(p.get("orderNumber", ""))
            o = self.orders.get(order_id or "")
            if not o:
                return self._error(6, "Заказ не найден")
            o = dict(o)
        st = o["orderStatus"]
        doc = {"errorCode": "0", "errorMessage": "Успешно", "orderNumber": o["orderNumber"], "orderStatus": st,
               "actionCode": 0 if st in (0, 1, 2, 3, 4) else -2007,
               "actionCodeDescription": "" if st != 6 else "Истёк срок ожидания ввода данных.",
               "amount": o["amount"], "currency": o["currency"], "date": o["date"],
               "orderDescription": "", "merchantOrderParams": [], "attributes": [{"name": "mdOrder", "value": order_id}],
               "paymentAmountInfo": {"paymentState": {0: "CREATED", 1: "APPROVED", 2: "DEPOSITED", 3: "REVERSED",
                                                      4: "REFUNDED", 5: "CREATED", 6: "DECLINED"}[st],
                                     "approvedAmount": o["amount"] if st in (1, 2) else 0,
                                     "depositedAmount": o["amount"] if st == 2 else 0, "refundedAmount": 0},
               "statusText": STATUS_TEXT[st]}
        return 200, "application/json", json.dumps(doc, ensure_ascii=False)


if __name__ == "__main__":
    args = sys.argv[1:]
    gw = PaymentGateway(user=args[1] if len(args) > 1 else "shop-api",
                        password=args[2] if len(args) > 2 else "secret", port=int(args[0]) if args else 0)
    print(gw.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        gw.stop()
